"""Wire models of check and check-batch (the contract of access_common's EntitlementsClient)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_BATCH",
    "BatchDecision",
    "BatchItem",
    "CheckBatchRequest",
    "CheckBatchResponse",
    "CheckRequest",
    "CheckResponse",
]

MAX_BATCH = 100

_MIN_VERSION = Field(
    default=0,
    ge=0,
    description="Decide under at least this policy version of the tenant (a consistency "
    "token: the version an admin write or an earlier answer returned); 0 = whatever "
    "this replica knows",
)


class CheckRequest(BaseModel):
    """Whether this user, with these roles, in this tenant, may do this action on this resource."""

    model_config = ConfigDict(extra="ignore")

    user_id: str = Field(description="The verified subject (the token's sub)")
    tenant_id: str = Field(description="The verified tenant")
    roles: list[str] = Field(default_factory=list, description="The verified roles")
    action: str = Field(description="read, subscribe, write or admin")
    resource: str = Field(description="<kind>:<id>, e.g. instrument:BRENT_M1")
    min_policy_version: int = _MIN_VERSION


class CheckResponse(BaseModel):
    """The decision, how long it may be kept, and why."""

    allow: bool
    ttl_seconds: int = Field(description="Keep this decision at most this long")
    reason: str = Field(description="rule_allows, rule_denies, no_matching_rule or unknown_tenant")
    rule_id: str | None = Field(description="The deciding rule; null when no rule matched")
    policy_version: int = Field(description="The tenant's policy version of this decision")


class BatchItem(BaseModel):
    """One (action, resource) pair of a batch."""

    model_config = ConfigDict(extra="ignore")

    action: str
    resource: str


class CheckBatchRequest(BaseModel):
    """Many pairs for one subject (at most 100; more answers 422 BATCH_TOO_LARGE)."""

    model_config = ConfigDict(extra="ignore")

    user_id: str
    tenant_id: str
    roles: list[str] = Field(default_factory=list)
    checks: list[BatchItem]
    min_policy_version: int = _MIN_VERSION


class BatchDecision(BaseModel):
    """The decision of one pair, in request order."""

    action: str
    resource: str
    allow: bool
    ttl_seconds: int
    reason: str
    rule_id: str | None


class CheckBatchResponse(BaseModel):
    """Every decision of a batch, all under one policy version."""

    policy_version: int
    decisions: list[BatchDecision]
