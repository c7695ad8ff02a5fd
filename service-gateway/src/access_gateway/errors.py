"""The gateway's own error codes, one class each; the table lives in docs/gateway.md.

Every class below is an :class:`~access_common.errors.AccessError`, so the shared
handlers render it as ``{trace_id, code, message, details}``.
"""

from __future__ import annotations

from typing import Any

from access_common.errors import (
    AccessError,
    DependencyUnavailable,
    Forbidden,
    RateLimited,
    Unauthorized,
)

__all__ = [
    "AuthUnavailable",
    "EntitlementDenied",
    "EntitlementsUnavailable",
    "HeadersTooLarge",
    "RateLimitExceeded",
    "TenantMissing",
    "TokenMissing",
    "UpstreamBadResponse",
    "UpstreamCircuitOpen",
    "UpstreamError",
    "UpstreamSaturated",
    "UpstreamTimeout",
    "UpstreamUnreachable",
]

_MISSING_TOKEN_CHALLENGE = 'Bearer realm="access"'  # noqa: S105 - a challenge, not a secret


class TokenMissing(Unauthorized):
    """The route needs a bearer token and none was sent (401)."""

    default_code = "TOKEN_MISSING"
    default_message = "A bearer token is required"

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": _MISSING_TOKEN_CHALLENGE})


class TenantMissing(Forbidden):
    """The token verified but carries no tenant; the gateway never guesses one (403)."""

    default_code = "TENANT_MISSING"
    default_message = "The token carries no tenant"


class EntitlementDenied(Forbidden):
    """The entitlements service said no (403)."""

    default_code = "ENTITLEMENT_DENIED"
    default_message = "Access to this resource is not granted"


class RateLimitExceeded(RateLimited):
    """The caller's tier budget for this window is spent (429, Retry-After)."""

    default_code = "RATE_LIMITED"
    default_message = "Too many requests; retry after the window resets"


class HeadersTooLarge(AccessError):
    """The request's headers exceed ACCESS_MAX_HEADER_BYTES (431)."""

    status = 431
    default_code = "HEADERS_TOO_LARGE"
    default_message = "Request headers are too large"


class AuthUnavailable(DependencyUnavailable):
    """The auth service did not answer; the gateway fails closed (503)."""

    default_code = "AUTH_UNAVAILABLE"
    default_message = "Token verification is unavailable; retry shortly"


class EntitlementsUnavailable(DependencyUnavailable):
    """The entitlements service did not answer; the gateway fails closed (503)."""

    default_code = "ENTITLEMENTS_UNAVAILABLE"
    default_message = "Entitlement checks are unavailable; retry shortly"


class _UpstreamFailure(AccessError):
    """Base of the upstream errors: details always name the upstream."""

    def __init__(
        self,
        upstream: str,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            message, details={"upstream": upstream, **(details or {})}, headers=headers
        )


class UpstreamUnreachable(_UpstreamFailure):
    """No connection to the upstream could be made (502)."""

    status = 502
    default_code = "UPSTREAM_UNREACHABLE"
    default_message = "The upstream service could not be reached"


class UpstreamError(_UpstreamFailure):
    """The upstream answered 5xx (502)."""

    status = 502
    default_code = "UPSTREAM_ERROR"
    default_message = "The upstream service failed"


class UpstreamBadResponse(_UpstreamFailure):
    """The upstream's answer is too large or unusable (502)."""

    status = 502
    default_code = "UPSTREAM_BAD_RESPONSE"
    default_message = "The upstream service answered something unusable"


class UpstreamCircuitOpen(_UpstreamFailure):
    """Recent calls to the upstream failed; it is given time to recover (503, Retry-After)."""

    status = 503
    default_code = "UPSTREAM_CIRCUIT_OPEN"
    default_message = "The upstream service is failing; calls are paused"


class UpstreamSaturated(_UpstreamFailure):
    """Too many calls to the upstream are in flight or waiting (503, Retry-After)."""

    status = 503
    default_code = "UPSTREAM_SATURATED"
    default_message = "The upstream service is at capacity; retry shortly"


class UpstreamTimeout(_UpstreamFailure):
    """The upstream did not answer within the route's timeout (504)."""

    status = 504
    default_code = "UPSTREAM_TIMEOUT"
    default_message = "The upstream service did not answer in time"
