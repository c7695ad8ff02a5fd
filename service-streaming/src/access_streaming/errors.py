"""The streaming service's error codes (docs/errors.md, streaming table).

The same classes answer HTTP requests (``{trace_id, code, message, details}``) and
become WebSocket/SSE ``error`` messages (``{"type": "error", "error": code, ...}``).
"""

from __future__ import annotations

from access_common.errors import (
    AccessError,
    BadRequest,
    DependencyUnavailable,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
)

__all__ = [
    "ActionUnknown",
    "ConnectRateLimited",
    "ConnectionLimitExceeded",
    "ConnectionNotFound",
    "EntitlementsUnavailable",
    "FilterInvalid",
    "MessageMalformed",
    "MessageRateLimited",
    "MessageTooLarge",
    "ServerAtCapacity",
    "SubscriptionDenied",
    "SubscriptionRevoked",
    "TenantRequired",
    "TokenMissing",
    "TokenSubjectMismatch",
    "TooManyTopics",
    "TopicInvalid",
    "TopicUnknown",
    "error_message",
]


class TopicInvalid(BadRequest):
    """A topic name is not a string of letters, digits, '.', '_' or '-'."""

    default_code = "TOPIC_INVALID"
    default_message = "Invalid topic name"


class TopicUnknown(NotFound):
    """The topic is not in the registry."""

    default_code = "TOPIC_UNKNOWN"
    default_message = "Unknown topic"


class FilterInvalid(BadRequest):
    """Filters are not an object of field paths to scalar values."""

    default_code = "FILTER_INVALID"
    default_message = "Invalid filters"


class TooManyTopics(BadRequest):
    """A connection asked for more topics than ACCESS_MAX_TOPICS_PER_CONNECTION."""

    default_code = "TOO_MANY_TOPICS"
    default_message = "Too many topics on one connection"


class SubscriptionDenied(Forbidden):
    """The entitlements service denied ``subscribe`` on the topic."""

    default_code = "SUBSCRIPTION_DENIED"
    default_message = "Insufficient permissions for the topic"


class SubscriptionRevoked(Forbidden):
    """An entitlement re-check (policy change, refreshed token) no longer allows the topic."""

    default_code = "SUBSCRIPTION_REVOKED"
    default_message = "Access to the topic was revoked"


class TokenSubjectMismatch(Forbidden):
    """A refresh token names another user or tenant than the connection's."""

    default_code = "TOKEN_SUBJECT_MISMATCH"
    default_message = "The new token belongs to another user or tenant"


class MessageMalformed(BadRequest):
    """A client message is not JSON, not an object, or has the wrong shape."""

    default_code = "MESSAGE_MALFORMED"
    default_message = "Malformed message"


class ActionUnknown(BadRequest):
    """A client message names an action the protocol does not have."""

    default_code = "ACTION_UNKNOWN"
    default_message = "Unknown action"


class MessageTooLarge(PayloadTooLarge):
    """A client message is larger than ACCESS_MAX_CLIENT_MESSAGE_BYTES."""

    default_code = "MESSAGE_TOO_LARGE"
    default_message = "Message too large"


class MessageRateLimited(RateLimited):
    """A client sends more than ACCESS_CLIENT_MESSAGES_PER_SECOND."""

    default_code = "MESSAGE_RATE_LIMITED"
    default_message = "Too many messages; slow down"


class ConnectRateLimited(RateLimited):
    """More connection attempts from one address than ACCESS_CONNECTS_PER_MINUTE_PER_IP."""

    default_code = "CONNECT_RATE_LIMITED"
    default_message = "Too many connection attempts from this address"


class ConnectionLimitExceeded(RateLimited):
    """The user or the tenant holds as many connections as allowed."""

    default_code = "CONNECTION_LIMIT_EXCEEDED"
    default_message = "Connection limit reached"


class TokenMissing(Unauthorized):
    """No token in the query (``?token=``) or the Authorization header."""

    default_code = "TOKEN_MISSING"
    default_message = "A token is required (?token=<jwt> or Authorization: Bearer)"

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": 'Bearer realm="access"'})


class TenantRequired(Forbidden):
    """The verified token carries no tenant, and every stream is scoped by tenant."""

    default_code = "TENANT_REQUIRED"
    default_message = "Streaming needs a token with a tenant"


class ServerAtCapacity(DependencyUnavailable):
    """The instance holds ACCESS_MAX_WS_CONNECTIONS (or SSE) connections already."""

    default_code = "SERVER_AT_CAPACITY"
    default_message = "The server is at capacity; retry shortly"


class ConnectionNotFound(NotFound):
    """No SSE connection with that id belongs to the caller on this instance."""

    default_code = "CONNECTION_NOT_FOUND"
    default_message = "No such connection"


class EntitlementsUnavailable(DependencyUnavailable):
    """The entitlements service could not answer: subscriptions fail closed."""

    default_code = "ENTITLEMENTS_UNAVAILABLE"
    default_message = "Entitlements cannot be checked right now; retry shortly"


def error_message(exc: AccessError) -> dict[str, object]:
    """The seed 003 ``error`` message for an error (without ``type`` for SSE callers to add)."""
    return {"error": exc.code, "message": exc.message, "details": exc.details}
