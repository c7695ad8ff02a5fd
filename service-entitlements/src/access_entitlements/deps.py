"""FastAPI dependencies of the entitlements service, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from access_entitlements.admin.auth import Admin, authenticate
from access_entitlements.decisions.service import Decider
from access_entitlements.rules.service import RuleService
from access_entitlements.runtime import EntitlementsRuntime

__all__ = ["AdminDep", "DeciderDep", "RuleServiceDep", "RuntimeDep", "decider_of"]


async def get_runtime(request: Request) -> EntitlementsRuntime:
    """The runtime the lifespan stored on the app."""
    runtime: EntitlementsRuntime = request.app.state.entitlements
    return runtime


RuntimeDep = Annotated[EntitlementsRuntime, Depends(get_runtime)]


async def get_decider(runtime: RuntimeDep) -> Decider:
    """The decider."""
    return runtime.decider


def decider_of(request: Request) -> Decider:
    """The decider, without FastAPI's dependency solving.

    check and check-batch are the hot path: solving the two-level dependency cost about
    a quarter of a cached check in profiles, so those two routes call this directly.
    """
    runtime: EntitlementsRuntime = request.app.state.entitlements
    return runtime.decider


async def get_rules(runtime: RuntimeDep) -> RuleService:
    """The rule service."""
    return runtime.rules


async def get_admin(
    runtime: RuntimeDep,
    authorization: Annotated[
        str | None, Header(description="`Bearer <JWT>` of an admin of the tenant")
    ] = None,
) -> Admin:
    """The verified admin of the request (401 / 403 otherwise)."""
    return await authenticate(runtime.auth, authorization)


DeciderDep = Annotated[Decider, Depends(get_decider)]
RuleServiceDep = Annotated[RuleService, Depends(get_rules)]
AdminDep = Annotated[Admin, Depends(get_admin)]
