"""What goes upstream and what comes back: headers allowed through, answers kept.

Only listed request headers reach the upstream; the tenant and user come from the
verified token (``X-Tenant-ID``, ``X-User-ID``), never from the client, and the request
id and ``traceparent`` are added by the HTTP client. Answers keep only the headers a
client may see; an upstream's 4xx is rewritten into the error model.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from access_common.context import current_trace_id
from access_gateway.cache.entry import CachedResponse

__all__ = ["PASSED_REQUEST_HEADERS", "answer_of", "upstream_headers"]

PASSED_REQUEST_HEADERS = ("accept", "content-type", "accept-language")
# ASGI header names are lower-case bytes: compared as such, only kept ones are decoded.
_PASSED = frozenset(name.encode("latin-1") for name in PASSED_REQUEST_HEADERS)
_KEPT_RESPONSE_HEADERS = frozenset({"content-type", "etag", "last-modified", "content-language"})
_AS_OF = "x-projection-as-of"
_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 410: "GONE", 413: "PAYLOAD_TOO_LARGE",
    422: "VALIDATION_FAILED", 429: "RATE_LIMITED",
}  # fmt: skip


def upstream_headers(
    incoming: list[tuple[bytes, bytes]], *, tenant: str | None, user: str | None
) -> dict[str, str]:
    """The headers sent upstream: the allowed ones, then the verified identity."""
    headers: dict[str, str] = {}
    for key, value in incoming:
        if key in _PASSED:
            headers[key.decode("latin-1")] = value.decode("latin-1")
    if tenant is not None:
        headers["x-tenant-id"] = tenant
    if user is not None:
        headers["x-user-id"] = user
    return headers


def answer_of(response: httpx.Response, upstream: str, expose: tuple[str, ...]) -> CachedResponse:
    """The part of an upstream answer the gateway keeps and relays."""
    if response.status_code >= 400:
        return _client_error(response, upstream)
    kept = _KEPT_RESPONSE_HEADERS
    if expose:
        kept = kept.union(name.lower() for name in expose)
    headers: list[tuple[str, str]] = []
    as_of = 0.0
    # One pass over the answer's headers (httpx's lookups each scan and lower-case them).
    for key, value in response.headers.multi_items():
        if key in kept:
            headers.append((key, value))
        elif key == _AS_OF:
            try:
                as_of = float(value)
            except ValueError:
                as_of = 0.0
    return CachedResponse(response.status_code, tuple(headers), response.content, as_of=as_of)


def _client_error(response: httpx.Response, upstream: str) -> CachedResponse:
    status = response.status_code
    code, message, details = _CODES.get(status, f"HTTP_{status}"), "Upstream refused", {}
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("code"), str):
            code = body["code"]
        if isinstance(body.get("message"), str):
            message = body["message"]
        elif isinstance(body.get("detail"), str):
            message = body["detail"]
        if isinstance(body.get("details"), dict):
            details = body["details"]
    wire = {
        "trace_id": current_trace_id(),
        "code": code,
        "message": message,
        "details": {**details, "upstream": upstream},
    }
    return CachedResponse(status, (("content-type", "application/json"),), orjson.dumps(wire))
