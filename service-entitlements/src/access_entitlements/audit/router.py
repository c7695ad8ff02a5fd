"""GET /entitlements/audit: who changed what in the admin's tenant, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Response

from access_entitlements.admin.auth import own_tenant
from access_entitlements.deps import AdminDep, RuleServiceDep
from access_entitlements.rules.router import ADMIN_RESPONSES, Limit, Page, TenantQuery
from access_entitlements.rules.schemas import AuditEntryOut, AuditPage

__all__ = ["router"]

router = APIRouter(prefix="/entitlements", tags=["administration"])


@router.get(
    "/audit", response_model=AuditPage, responses=ADMIN_RESPONSES,
    summary="The tenant's rule changes (X-Total-Count has the total)",
)  # fmt: skip
async def audit(
    admin: AdminDep,
    rules: RuleServiceDep,
    response: Response,
    page: Page = 1,
    limit: Limit = 50,
    tenant_id: TenantQuery = None,
) -> AuditPage:
    """One page of the audit trail: actor, time, operation, before and after."""
    tenant = own_tenant(admin, tenant_id)
    entries, total = await rules.audit(tenant, page, limit)
    response.headers["X-Total-Count"] = str(total)
    return AuditPage(
        items=[AuditEntryOut.model_validate(e, from_attributes=True) for e in entries],
        page=page,
        limit=limit,
        total=total,
    )
