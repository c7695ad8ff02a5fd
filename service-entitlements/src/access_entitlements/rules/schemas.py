"""Wire models of the rules administration API, explain and audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from access_entitlements.rules.model import Rule

__all__ = [
    "AuditEntryOut",
    "AuditPage",
    "ExplainRequest",
    "ExplainResponse",
    "MatchedRule",
    "RuleDeleted",
    "RuleIn",
    "RuleOut",
    "RulePage",
    "RuleUpdate",
    "RuleWritten",
]


class RuleIn(BaseModel):
    """A new rule of the caller's tenant."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str | None = Field(
        default=None, description="Must be the token's tenant when given (else 403)"
    )
    subject: str = Field(description="user:<id>, role:<name> or * (everyone in the tenant)")
    action: str = Field(description="read, subscribe, write, admin or *")
    resource: str = Field(description="<kind>:<id>, <kind>:<prefix>* or *")
    effect: str = Field(description="allow or deny (deny wins)")
    note: str | None = Field(default=None, max_length=500)


class RuleUpdate(BaseModel):
    """New values for some fields of a rule (the others are kept)."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str | None = None
    subject: str | None = None
    action: str | None = None
    resource: str | None = None
    effect: str | None = None
    note: str | None = Field(default=None, max_length=500)


class RuleOut(BaseModel):
    """A stored rule."""

    id: str
    tenant_id: str
    subject: str
    action: str
    resource: str
    effect: str
    note: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str

    @classmethod
    def of(cls, rule: Rule) -> RuleOut:
        """The wire form of a rule."""
        return cls.model_validate(rule, from_attributes=True)


class RuleWritten(BaseModel):
    """A rule after a write, and the tenant's policy version that write produced."""

    rule: RuleOut
    policy_version: int = Field(
        description="Pass as min_policy_version to see this change in the next check"
    )


class RulePage(BaseModel):
    """One page of a tenant's rules (also counted in X-Total-Count)."""

    items: list[RuleOut]
    page: int
    limit: int
    total: int
    policy_version: int


class ExplainRequest(BaseModel):
    """The check to explain (the tenant is the admin's own)."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: str | None = None
    user_id: str
    roles: list[str] = Field(default_factory=list)
    action: str
    resource: str


class MatchedRule(BaseModel):
    """A rule that matched the check, and whether it decided it."""

    rule: RuleOut
    decisive: bool
    specificity: list[int] = Field(
        description="[exact, prefix length, subject rank (user 2, role 1, everyone 0), "
        "named action 1 / * 0]; higher is more specific"
    )


class ExplainResponse(BaseModel):
    """Every rule that matched, which one decided, and why."""

    allow: bool
    reason: str
    rule_id: str | None
    policy_version: int
    explanation: str
    matched: list[MatchedRule]


class AuditEntryOut(BaseModel):
    """One change: who, when, what before, what after."""

    seq: int
    tenant_id: str
    at: datetime
    actor: str
    operation: str
    rule_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    policy_version: int


class AuditPage(BaseModel):
    """One page of a tenant's audit trail, newest first."""

    items: list[AuditEntryOut]
    page: int
    limit: int
    total: int


class RuleDeleted(BaseModel):
    """A deleted rule's id and the tenant's policy version after the delete."""

    id: str
    policy_version: int
