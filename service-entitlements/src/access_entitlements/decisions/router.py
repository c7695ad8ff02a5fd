"""POST /entitlements/check and /entitlements/check-batch: internal, for gateway and streaming.

They are served twice over, on purpose. The FastAPI routes below document the contract
(OpenAPI) and behave exactly as served; ``fast_routes()`` gives plain Starlette routes of
the same two paths, which ``create_app`` puts first in the router so they are what
answers. Both call the same two functions. The plain routes skip FastAPI's per-request
route handling (dependency solving, endpoint wrapping), which measured as about half of
a cached check's CPU; the platform middleware and the error handlers still apply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from access_common.errors import ErrorBody
from access_common.responses import JsonBytesResponse
from access_entitlements.decisions.schemas import (
    CheckBatchRequest,
    CheckBatchResponse,
    CheckRequest,
    CheckResponse,
)
from access_entitlements.decisions.service import parse_subject_of_check
from access_entitlements.decisions.wire import body_schema, parse_body, verdict_response
from access_entitlements.deps import decider_of

__all__ = ["decide_batch", "decide_one", "fast_routes", "router"]

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
    "/check",
    response_model=CheckResponse,
    response_class=JsonBytesResponse,
    responses=_RESPONSES,
    openapi_extra=body_schema(CheckRequest),
    summary="Decide one check",
)
async def check(request: Request) -> JsonBytesResponse:
    """Allow or deny one action on one resource; unknown tenant or no rule: deny."""
    return await decide_one(request)


async def decide_one(request: Request) -> JsonBytesResponse:
    """The body of ``check``: parse, validate the subject, decide, encode."""
    body = parse_body(CheckRequest, await request.body())
    subject = parse_subject_of_check(body.user_id, body.tenant_id, body.roles)
    verdict = await decider_of(request).check(
        subject, body.action, body.resource, body.min_policy_version
    )
    return verdict_response(verdict)


@router.post(
    "/check-batch",
    response_model=CheckBatchResponse,
    response_class=JsonBytesResponse,
    responses=_RESPONSES,
    openapi_extra=body_schema(CheckBatchRequest),
    summary="Decide up to 100 checks of one subject",
)
async def check_batch(request: Request) -> JsonBytesResponse:
    """Decisions in request order, all under one policy version."""
    return await decide_batch(request)


async def decide_batch(request: Request) -> JsonBytesResponse:
    """The body of ``check-batch``."""
    body = parse_body(CheckBatchRequest, await request.body())
    subject = parse_subject_of_check(body.user_id, body.tenant_id, body.roles)
    items = [(c.action, c.resource) for c in body.checks]
    version, verdicts = await decider_of(request).check_many(
        subject, items, body.min_policy_version
    )
    decisions = [
        {
            "action": action,
            "resource": resource,
            "allow": v.allow,
            "ttl_seconds": v.ttl_seconds,
            "reason": v.reason,
            "rule_id": v.rule_id,
        }
        for (action, resource), v in zip(items, verdicts, strict=True)
    ]
    return JsonBytesResponse(orjson.dumps({"policy_version": version, "decisions": decisions}))


class _Endpoint:
    """A plain ASGI endpoint around one of the decide functions."""

    def __init__(self, decide: Callable[[Request], Awaitable[JsonBytesResponse]]) -> None:
        self._decide = decide
        self.route: Route | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The platform middleware labels its metrics with the matched route's template.
        scope["route"] = self.route
        response = await self._decide(Request(scope, receive))
        await response(scope, receive, send)


def fast_routes() -> list[Route]:
    """The two hot routes as plain Starlette routes, to be placed first in the app."""
    routes: list[Route] = []
    for path, decide in (
        ("/entitlements/check", decide_one),
        ("/entitlements/check-batch", decide_batch),
    ):
        endpoint = _Endpoint(decide)
        endpoint.route = Route(path, endpoint, methods=["POST"])
        routes.append(endpoint.route)
    return routes
