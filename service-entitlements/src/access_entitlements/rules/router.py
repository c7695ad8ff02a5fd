"""The administration API: ``/entitlements/rules`` CRUD and ``POST /entitlements/explain``.

Every route needs a bearer token of an ``admin`` of the tenant it touches; a tenant id in
the request that differs from the token's answers 403 TENANT_MISMATCH, and another
tenant's rule id answers 404 RULE_NOT_FOUND, as a missing one does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from access_common.errors import ErrorBody
from access_entitlements.admin.auth import own_tenant
from access_entitlements.decisions.service import parse_subject_of_check
from access_entitlements.deps import AdminDep, RuleServiceDep, RuntimeDep
from access_entitlements.rules.explain import explain as explain_check
from access_entitlements.rules.schemas import (
    ExplainRequest,
    ExplainResponse,
    MatchedRule,
    RuleDeleted,
    RuleIn,
    RuleOut,
    RulePage,
    RuleUpdate,
    RuleWritten,
)
from access_entitlements.rules.service import RuleFields

__all__ = ["router"]

router = APIRouter(prefix="/entitlements", tags=["administration"])

ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "TOKEN_MISSING or the auth service's TOKEN_* code"},
    403: {
        "model": ErrorBody,
        "description": "ADMIN_ROLE_REQUIRED, TENANT_REQUIRED, TENANT_MISMATCH",
    },
    503: {"model": ErrorBody, "description": "The auth service or the store is unavailable"},
}
_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ADMIN_RESPONSES,
    404: {"model": ErrorBody, "description": "RULE_NOT_FOUND"},
    409: {"model": ErrorBody, "description": "RULE_EXISTS"},
    422: {
        "model": ErrorBody,
        "description": "INVALID_SUBJECT, UNKNOWN_ACTION, INVALID_RESOURCE_PATTERN, "
        "INVALID_EFFECT, VALIDATION_FAILED",
    },
}

Page = Annotated[int, Query(ge=1, le=1_000_000, description="1-based page")]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page")]
TenantQuery = Annotated[
    str | None, Query(description="Must be the token's tenant when given (else 403)")
]


@router.post(
    "/rules", status_code=201, response_model=RuleWritten, responses=_WRITE_RESPONSES,
    summary="Create a rule in the admin's tenant",
)  # fmt: skip
async def create_rule(body: RuleIn, admin: AdminDep, rules: RuleServiceDep) -> RuleWritten:
    """Add a rule; the answer carries the tenant's new policy version."""
    tenant_id = own_tenant(admin, body.tenant_id)
    fields = RuleFields(body.subject, body.action, body.resource, body.effect, body.note)
    rule, version = await rules.create(tenant_id, admin.user_id, fields)
    return RuleWritten(rule=RuleOut.of(rule), policy_version=version)


@router.get(
    "/rules", response_model=RulePage, responses=ADMIN_RESPONSES,
    summary="List the admin's tenant's rules (X-Total-Count has the total)",
)  # fmt: skip
async def list_rules(
    admin: AdminDep,
    rules: RuleServiceDep,
    response: Response,
    page: Page = 1,
    limit: Limit = 50,
    tenant_id: TenantQuery = None,
) -> RulePage:
    """One page of rules in id order."""
    tenant = own_tenant(admin, tenant_id)
    items, total, version = await rules.page(tenant, page, limit)
    response.headers["X-Total-Count"] = str(total)
    return RulePage(
        items=[RuleOut.of(r) for r in items], page=page, limit=limit, total=total,
        policy_version=version,
    )  # fmt: skip


@router.get(
    "/rules/{rule_id}", response_model=RuleOut, responses=_WRITE_RESPONSES, summary="Get a rule"
)
async def get_rule(rule_id: str, admin: AdminDep, rules: RuleServiceDep) -> RuleOut:
    """One rule of the admin's tenant."""
    return RuleOut.of(await rules.get(admin.tenant_id, rule_id))


@router.patch(
    "/rules/{rule_id}", response_model=RuleWritten, responses=_WRITE_RESPONSES,
    summary="Change some fields of a rule",
)  # fmt: skip
async def update_rule(
    rule_id: str, body: RuleUpdate, admin: AdminDep, rules: RuleServiceDep
) -> RuleWritten:
    """Fields left out keep their value; the answer carries the new policy version."""
    tenant_id = own_tenant(admin, body.tenant_id)
    changes = body.model_dump(exclude_unset=True, exclude={"tenant_id"})
    rule, version = await rules.update(tenant_id, admin.user_id, rule_id, changes)
    return RuleWritten(rule=RuleOut.of(rule), policy_version=version)


@router.delete(
    "/rules/{rule_id}", response_model=RuleDeleted, responses=_WRITE_RESPONSES,
    summary="Delete a rule",
)  # fmt: skip
async def delete_rule(rule_id: str, admin: AdminDep, rules: RuleServiceDep) -> RuleDeleted:
    """Remove a rule; the answer carries the tenant's new policy version."""
    version = await rules.delete(admin.tenant_id, admin.user_id, rule_id)
    return RuleDeleted(id=rule_id, policy_version=version)


@router.post(
    "/explain", response_model=ExplainResponse, responses=_WRITE_RESPONSES,
    summary="Every rule that matches a check, which one decides, and why",
)  # fmt: skip
async def explain(body: ExplainRequest, admin: AdminDep, runtime: RuntimeDep) -> ExplainResponse:
    """Evaluate a check of the admin's tenant against its stored rules (no cache)."""
    tenant_id = own_tenant(admin, body.tenant_id)
    subject = parse_subject_of_check(body.user_id, tenant_id, body.roles)
    result = await explain_check(runtime.repo, subject, body.action, body.resource)
    decisive = result.evaluation.rule_id
    return ExplainResponse(
        allow=result.evaluation.allow,
        reason=result.evaluation.reason,
        rule_id=decisive,
        policy_version=result.version,
        explanation=result.sentence,
        matched=[
            MatchedRule(
                rule=RuleOut.of(m.rule), decisive=m.rule.id == decisive, specificity=list(m.rank)
            )
            for m in result.matched
        ],
    )
