"""GET /entitlements/policy-versions: how clients learn a tenant's new version at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from access_entitlements.deps import RuntimeDep

__all__ = ["PolicyVersionsOut", "router"]

router = APIRouter(prefix="/entitlements", tags=["decisions"])


class PolicyVersionsOut(BaseModel):
    """Tenants whose version changed after the cursor (every tenant when ``full``)."""

    cursor: str = Field(description="Pass back as ?cursor= to get what changes next")
    full: bool = Field(description="True when this is the whole map, not changes")
    versions: dict[str, int]


@router.get(
    "/policy-versions",
    response_model=PolicyVersionsOut,
    summary="Long poll: policy versions changed after a cursor",
)
async def policy_versions(
    runtime: RuntimeDep,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    wait: Annotated[float, Query(ge=0, le=25, description="Seconds to wait for a change")] = 0,
) -> PolicyVersionsOut:
    """Internal: gateway and streaming follow this to drop cached decisions at once."""
    new_cursor, versions, full = await runtime.changes.since(cursor, wait)
    return PolicyVersionsOut(cursor=new_cursor, full=full, versions=versions)
