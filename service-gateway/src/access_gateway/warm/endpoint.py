"""``POST /api/v1/cache/warm``: warm the hot served queries for the caller's tenant."""

from __future__ import annotations

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.responses import Response

from access_common.errors import BadRequest, DependencyUnavailable, ValidationFailed
from access_common.responses import JsonBytesResponse
from access_gateway.pipeline.handler import Caller, InternalHandler
from access_gateway.routing.table import CompiledRoute
from access_gateway.runtime import GatewayRuntime
from access_gateway.warm.plan import HotQueriesError, load_hot_queries, plan
from access_gateway.warm.service import Warmer

__all__ = ["WarmRequest", "cache_warm_handler"]


class WarmRequest(BaseModel):
    """The optional body: ``{"dry_run": true}`` to see the plan without writing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dry_run: bool = False


def _request(body: bytes) -> WarmRequest:
    if not body.strip():
        return WarmRequest()
    try:
        return WarmRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(err["type"] == "json_invalid" for err in errors):
            raise BadRequest("The body is not valid JSON") from None
        details = [
            {"loc": ["body", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
            for e in errors
        ]
        raise ValidationFailed(details={"errors": details}) from None


def cache_warm_handler(runtime: GatewayRuntime) -> InternalHandler:
    """The internal handler the route table names ``internal:cache_warm``."""
    warmer = Warmer(
        runtime.upstreams,
        runtime.cache,
        runtime.metrics,
        concurrency=runtime.settings.cache_warm_concurrency,
    )

    async def handle(caller: Caller, route: CompiledRoute, body: bytes) -> Response:
        request = _request(body)
        try:
            queries = load_hot_queries(runtime.settings.hot_served_queries_file)
        except HotQueriesError as exc:
            raise DependencyUnavailable(str(exc), code="HOT_QUERIES_UNAVAILABLE") from None
        assert caller.principal is not None and caller.tenant is not None  # noqa: S101
        items, problems = plan(
            queries, runtime.routes, tenant=caller.tenant, user=caller.principal.sub
        )
        report = await warmer.warm(
            items,
            tenant=caller.tenant,
            user=caller.principal.sub,
            dry_run=request.dry_run,
            problems=problems,
        )
        return JsonBytesResponse(orjson.dumps(report.as_dict()))

    return handle
