"""Response helpers: orjson-encoded JSON for bodies built outside a response model."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

__all__ = ["JsonBytesResponse", "error_response"]


class JsonBytesResponse(Response):
    """A JSON response encoded once with orjson (errors, health, hand-built bodies)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode with orjson; bytes pass through untouched."""
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content, default=str)


def error_response(
    status: int,
    code: str,
    message: str,
    trace_id: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonBytesResponse:
    """Build a response in the uniform error model."""
    body = {"trace_id": trace_id, "code": code, "message": message, "details": details or {}}
    return JsonBytesResponse(body, status_code=status, headers=headers)
