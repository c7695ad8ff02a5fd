"""POST /entitlements/check and /entitlements/check-batch: internal, for gateway and streaming."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from access_common.errors import ErrorBody
from access_entitlements.decisions.schemas import (
    BatchDecision,
    CheckBatchRequest,
    CheckBatchResponse,
    CheckRequest,
    CheckResponse,
)
from access_entitlements.decisions.service import parse_subject_of_check
from access_entitlements.deps import DeciderDep

__all__ = ["router"]

router = APIRouter(prefix="/entitlements", tags=["decisions"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorBody,
        "description": "UNKNOWN_ACTION, INVALID_RESOURCE, INVALID_USER_ID, INVALID_TENANT_ID, "
        "INVALID_ROLES, BATCH_TOO_LARGE (over 100), BATCH_EMPTY, VALIDATION_FAILED",
    },
    503: {
        "model": ErrorBody,
        "description": "ENTITLEMENTS_UNAVAILABLE: the store is down and nothing is cached; "
        "treat as denied",
    },
}


@router.post(
    "/check", response_model=CheckResponse, responses=_RESPONSES, summary="Decide one check"
)
async def check(body: CheckRequest, decider: DeciderDep) -> CheckResponse:
    """Allow or deny one action on one resource; unknown tenant or no rule: deny."""
    subject = parse_subject_of_check(body.user_id, body.tenant_id, body.roles)
    verdict = await decider.check(subject, body.action, body.resource, body.min_policy_version)
    return CheckResponse(
        allow=verdict.allow,
        ttl_seconds=verdict.ttl_seconds,
        reason=verdict.reason,
        rule_id=verdict.rule_id,
        policy_version=verdict.policy_version,
    )


@router.post(
    "/check-batch",
    response_model=CheckBatchResponse,
    responses=_RESPONSES,
    summary="Decide up to 100 checks of one subject",
)
async def check_batch(body: CheckBatchRequest, decider: DeciderDep) -> CheckBatchResponse:
    """Decisions in request order, all under one policy version."""
    subject = parse_subject_of_check(body.user_id, body.tenant_id, body.roles)
    items = [(c.action, c.resource) for c in body.checks]
    version, verdicts = await decider.check_many(subject, items, body.min_policy_version)
    return CheckBatchResponse(
        policy_version=version,
        decisions=[
            BatchDecision(
                action=action,
                resource=resource,
                allow=v.allow,
                ttl_seconds=v.ttl_seconds,
                reason=v.reason,
                rule_id=v.rule_id,
            )
            for (action, resource), v in zip(items, verdicts, strict=True)
        ],
    )
