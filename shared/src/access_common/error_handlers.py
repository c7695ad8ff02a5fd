"""The one set of exception handlers every service installs: all errors in one model."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from access_common.context import current_trace_id
from access_common.errors import AccessError
from access_common.responses import error_response

__all__ = ["install_error_handlers"]

logger = logging.getLogger("access_common.errors")

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _access_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, AccessError)  # noqa: S101 - registered for AccessError only
    if exc.status >= 500:
        logger.warning("request failed: %s", exc.code, extra={"code": exc.code})
    return error_response(
        exc.status, exc.code, exc.message, current_trace_id(), exc.details, exc.headers
    )


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    status = exc.status_code
    code = _HTTP_CODES.get(status, f"HTTP_{status}")
    message = exc.detail if isinstance(exc.detail, str) else _phrase(status)
    headers = dict(exc.headers) if exc.headers else None
    return error_response(status, code, message, current_trace_id(), headers=headers)


def _validation_details(exc: RequestValidationError) -> dict[str, Any]:
    # The offending input is left out on purpose: it may be a token or a secret.
    errors = [
        {
            "loc": [str(p) for p in err.get("loc", ())],
            "msg": err.get("msg"),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]
    return {"errors": errors}


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    return error_response(
        422,
        "VALIDATION_FAILED",
        "Request validation failed",
        current_trace_id(),
        _validation_details(exc),
    )


async def _unexpected_error(_: Request, exc: Exception) -> Response:
    logger.error("unhandled error", exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "Internal error", current_trace_id())


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers so 404, 405, 413, 422, AccessError and 500 share one model."""
    app.add_exception_handler(AccessError, _access_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
