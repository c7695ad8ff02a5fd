"""The entitlements service's error codes (table in docs/errors.md and docs/entitlements.md)."""

from __future__ import annotations

from access_common.errors import (
    BackendError,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)

__all__ = [
    "AdminRoleRequired",
    "BatchEmpty",
    "BatchTooLarge",
    "EntitlementsUnavailable",
    "InvalidEffect",
    "InvalidField",
    "InvalidResource",
    "InvalidResourcePattern",
    "InvalidSubject",
    "RuleExists",
    "RuleNotFound",
    "TenantMismatch",
    "TenantRequired",
    "UnknownAction",
]


class UnknownAction(ValidationFailed):
    """The action is not one of read, subscribe, write, admin (or ``*`` in a rule)."""

    default_code = "UNKNOWN_ACTION"
    default_message = "Unknown action"


class InvalidResource(ValidationFailed):
    """A checked resource is not ``<kind>:<id>``."""

    default_code = "INVALID_RESOURCE"
    default_message = "The resource must be <kind>:<id>"


class InvalidResourcePattern(ValidationFailed):
    """A rule's pattern is malformed (a ``*`` not at the end, no kind, spaces...)."""

    default_code = "INVALID_RESOURCE_PATTERN"
    default_message = "Malformed resource pattern"


class InvalidSubject(ValidationFailed):
    """A rule's subject is not ``user:<id>``, ``role:<name>`` or ``*``."""

    default_code = "INVALID_SUBJECT"
    default_message = "The subject must be user:<id>, role:<name> or *"


class InvalidField(ValidationFailed):
    """An identifier is empty, too long or has whitespace; the code names the field."""

    def __init__(self, field: str) -> None:
        super().__init__(
            f"{field} must be 1-256 characters without whitespace",
            code=f"INVALID_{field.upper()}",
            details={"field": field},
        )


class BatchTooLarge(ValidationFailed):
    """More checks in one batch than the service answers at once."""

    default_code = "BATCH_TOO_LARGE"
    default_message = "Too many checks in one batch"


class BatchEmpty(ValidationFailed):
    """A batch without a single check."""

    default_code = "BATCH_EMPTY"
    default_message = "A batch needs at least one check"


class RuleNotFound(NotFound):
    """No rule with this id in the caller's tenant."""

    default_code = "RULE_NOT_FOUND"
    default_message = "No such rule in this tenant"


class RuleExists(Conflict):
    """The tenant already has a rule with this subject, action, resource and effect."""

    default_code = "RULE_EXISTS"
    default_message = "An identical rule already exists"


class AdminRoleRequired(Forbidden):
    """The token is valid but lacks the admin role."""

    default_code = "ADMIN_ROLE_REQUIRED"
    default_message = "The admin role of this tenant is required"


class TenantRequired(Forbidden):
    """The token names no tenant, so it administers none."""

    default_code = "TENANT_REQUIRED"
    default_message = "The token carries no tenant"


class TenantMismatch(Forbidden):
    """The request names a tenant other than the token's."""

    default_code = "TENANT_MISMATCH"
    default_message = "An admin may only manage their own tenant"


class EntitlementsUnavailable(BackendError):
    """No decision can be made: the rule store is down and nothing is cached (fail closed)."""

    default_code = "ENTITLEMENTS_UNAVAILABLE"
    default_message = "Entitlements cannot be decided right now; treat as denied and retry"


class InvalidEffect(ValidationFailed):
    """A rule's effect is neither allow nor deny."""

    default_code = "INVALID_EFFECT"
    default_message = "The effect must be allow or deny"
