"""The one exception hierarchy of the access layer and the wire model every error uses.

Every error a service returns is ``{trace_id, code, message, details}``. Code raises an
``AccessError`` subclass; the handlers in :mod:`access_common.error_handlers` turn it
(and FastAPI's own 404/405/422, and any unexpected exception) into that body.

Hierarchy::

    AccessError (500 INTERNAL_ERROR)
    ├── BadRequest (400 BAD_REQUEST)
    │   └── ValidationFailed (422 VALIDATION_FAILED)
    ├── Unauthorized (401 UNAUTHORIZED)
    ├── Forbidden (403 FORBIDDEN)
    ├── NotFound (404 NOT_FOUND)
    ├── MethodNotAllowed (405 METHOD_NOT_ALLOWED)
    ├── Conflict (409 CONFLICT)
    ├── PayloadTooLarge (413 PAYLOAD_TOO_LARGE)
    ├── RateLimited (429 RATE_LIMITED)
    ├── DependencyUnavailable (503 DEPENDENCY_UNAVAILABLE)
    └── BackendError (503 BACKEND_UNAVAILABLE)
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

__all__ = [
    "AccessError",
    "BackendError",
    "BadRequest",
    "Conflict",
    "DependencyUnavailable",
    "ErrorBody",
    "Forbidden",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "Unauthorized",
    "ValidationFailed",
]


class ErrorBody(BaseModel):
    """The uniform error model on the wire."""

    trace_id: str = Field(description="W3C trace id of the request, for support and log search")
    code: str = Field(description="Stable machine-readable error code, e.g. TOKEN_EXPIRED")
    message: str = Field(description="Human-readable explanation; never contains secrets")
    details: dict[str, Any] = Field(default_factory=dict)


class AccessError(Exception):
    """Base of every error a service raises on purpose; carries HTTP status and code."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "Internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class BadRequest(AccessError):
    """The request is malformed."""

    status = 400
    default_code = "BAD_REQUEST"
    default_message = "Bad request"


class ValidationFailed(BadRequest):
    """The request parsed but its fields are invalid."""

    status = 422
    default_code = "VALIDATION_FAILED"
    default_message = "Request validation failed"


class Unauthorized(AccessError):
    """No or bad credentials."""

    status = 401
    default_code = "UNAUTHORIZED"
    default_message = "Authentication required"


class Forbidden(AccessError):
    """Credentials are good but not for this."""

    status = 403
    default_code = "FORBIDDEN"
    default_message = "Access denied"


class NotFound(AccessError):
    """No such resource or route."""

    status = 404
    default_code = "NOT_FOUND"
    default_message = "Not found"


class MethodNotAllowed(AccessError):
    """The route exists but not for this method."""

    status = 405
    default_code = "METHOD_NOT_ALLOWED"
    default_message = "Method not allowed"


class Conflict(AccessError):
    """The request conflicts with the current state (e.g. a duplicate)."""

    status = 409
    default_code = "CONFLICT"
    default_message = "Conflict"


class PayloadTooLarge(AccessError):
    """The body is larger than the service accepts."""

    status = 413
    default_code = "PAYLOAD_TOO_LARGE"
    default_message = "Request body too large"


class RateLimited(AccessError):
    """Too many requests."""

    status = 429
    default_code = "RATE_LIMITED"
    default_message = "Too many requests"


class DependencyUnavailable(AccessError):
    """Another service this one needs did not answer in time."""

    status = 503
    default_code = "DEPENDENCY_UNAVAILABLE"
    default_message = "A dependency is unavailable"


class BackendError(AccessError):
    """A storage or bus backend failed; raised by access_common.backends."""

    status = 503
    default_code = "BACKEND_UNAVAILABLE"
    default_message = "A backend is unavailable"
