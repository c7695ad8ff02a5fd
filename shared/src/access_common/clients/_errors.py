"""Turn a peer's error response back into the AccessError it described."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from access_common.errors import (
    AccessError,
    BadRequest,
    DependencyUnavailable,
    Forbidden,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)

__all__ = ["raise_for_peer_error"]

_BY_STATUS: dict[int, type[AccessError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    422: ValidationFailed,
    429: RateLimited,
}


def raise_for_peer_error(response: httpx.Response, peer: str) -> None:
    """Raise the peer's error with its code kept; 5xx and garbage become DependencyUnavailable."""
    if response.status_code < 400:
        return
    try:
        body: Any = orjson.loads(response.content)
        code, message = str(body["code"]), str(body["message"])
        details = body.get("details") if isinstance(body.get("details"), dict) else {}
    except (orjson.JSONDecodeError, KeyError, TypeError):
        code, message, details = "", "", {}
    error = _BY_STATUS.get(response.status_code)
    if error is not None and code:
        headers = {}
        if "www-authenticate" in response.headers:
            headers["WWW-Authenticate"] = response.headers["www-authenticate"]
        raise error(message, code=code, details=details, headers=headers)
    raise DependencyUnavailable(
        f"{peer} answered {response.status_code}",
        code=code if response.status_code == 503 and code else None,
        details={"peer": peer, "status": response.status_code},
    )
