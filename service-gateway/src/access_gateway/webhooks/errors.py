"""The webhook error codes GW-001 … GW-013: one AccessError subclass per refusal.

Seed 004 names GW-001, -002, -004, -005, -006 and -011; the others fill the gaps it
leaves (docs/errors.md has the table). Every class carries its HTTP status, its code
and, where a retry can succeed, a ``Retry-After`` header.
"""

from __future__ import annotations

from typing import Any, ClassVar

from access_common.errors import AccessError

__all__ = [
    "BodyTooLarge",
    "ClientNotAllowed",
    "DuplicateSignal",
    "InternalWebhookError",
    "InvalidPayload",
    "InvalidSignature",
    "MaintenanceMode",
    "NatsUnavailable",
    "RateLimitExceeded",
    "ReplayRejected",
    "SourceNotAllowed",
    "StoreUnavailable",
    "UnsupportedContentType",
    "WebhookError",
]


class WebhookError(AccessError):
    """A refused webhook; ``kind`` labels gateway_validation_errors_total when set."""

    kind: ClassVar[str | None] = None

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        merged = dict(headers or {})
        if retry_after is not None:
            merged["Retry-After"] = str(retry_after)
        super().__init__(message, details=details, headers=merged)


class InvalidSignature(WebhookError):
    """Missing or wrong signature, token or secret (seed GW-001)."""

    status = 401
    default_code = "GW-001"
    default_message = "Invalid or missing webhook signature"
    kind = "signature"


class ReplayRejected(WebhookError):
    """Timestamp outside the replay window, unparseable, or a nonce seen before (GW-002)."""

    status = 401
    default_code = "GW-002"
    default_message = "Replay window exceeded or nonce already used"
    kind = "replay"


class InvalidPayload(WebhookError):
    """The body is not JSON or not the source's payload shape (GW-003)."""

    status = 422
    default_code = "GW-003"
    default_message = "Malformed webhook payload"
    kind = "payload"


class RateLimitExceeded(WebhookError):
    """Over RATE_LIMIT_RPS (per client) or the source's limit (seed GW-004)."""

    status = 429
    default_code = "GW-004"
    default_message = "Rate limit exceeded"
    kind = "rate_limit"


class NatsUnavailable(WebhookError):
    """JetStream did not acknowledge in time, or the in-flight buffer is full (GW-005)."""

    status = 503
    default_code = "GW-005"
    default_message = "Signal bus unavailable; retry later"


class DuplicateSignal(WebhookError):
    """The idempotency key was accepted (or is being accepted) already (seed GW-006)."""

    status = 409
    default_code = "GW-006"
    default_message = "Duplicate signal"
    kind = "duplicate"


class SourceNotAllowed(WebhookError):
    """``/webhook/{source}`` names a source not in ALLOWED_SOURCES (GW-007)."""

    status = 404
    default_code = "GW-007"
    default_message = "Unknown or disallowed webhook source"
    kind = "source"


class BodyTooLarge(WebhookError):
    """The body exceeds ACCESS_WEBHOOK_MAX_BODY_BYTES (GW-008)."""

    status = 413
    default_code = "GW-008"
    default_message = "Webhook payload too large"
    kind = "too_large"


class UnsupportedContentType(WebhookError):
    """Not ``application/json`` (or ``text/plain`` for TradingView-shaped sources) (GW-009)."""

    status = 415
    default_code = "GW-009"
    default_message = "Unsupported content type"
    kind = "content_type"


class InternalWebhookError(WebhookError):
    """A bug while accepting a webhook; logged with its stack, never returned (GW-010)."""

    status = 500
    default_code = "GW-010"
    default_message = "Internal error"


class MaintenanceMode(WebhookError):
    """MAINTENANCE_MODE is on (seed GW-011)."""

    status = 503
    default_code = "GW-011"
    default_message = "Webhook ingestion is in maintenance; retry later"


class ClientNotAllowed(WebhookError):
    """The client address is not in the source's allow-list (GW-012)."""

    status = 403
    default_code = "GW-012"
    default_message = "Client address not allowed for this source"
    kind = "client_ip"


class StoreUnavailable(WebhookError):
    """The nonce/idempotency store (Redis) is unreachable: fail closed (GW-013)."""

    status = 503
    default_code = "GW-013"
    default_message = "Replay and idempotency store unavailable; retry later"
