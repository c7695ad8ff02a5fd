"""The REST pipeline for every ``/api/v1`` route of the table.

Rate limit → token verification → entitlement → cache → upstream, each stage timed in
``Server-Timing``. A user-scoped tier needs the verified user, so for a token not seen
yet verification runs first (once; its principal is then remembered); every later
request of that token is limited before anything else happens, with no network hop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from access_common.clients import Subject, VerifiedPrincipal
from access_common.errors import AccessError, BadRequest, Forbidden, ValidationFailed
from access_common.ratelimit import RateDecision
from access_gateway.cache.entry import CachedResponse
from access_gateway.cache.keys import cache_key
from access_gateway.errors import (
    EntitlementDenied,
    EntitlementsUnavailable,
    HeadersTooLarge,
    TenantMissing,
)
from access_gateway.identity.principals import bearer_token
from access_gateway.pipeline.forward import answer_of, upstream_headers
from access_gateway.pipeline.timing import ServerTiming
from access_gateway.routing.table import CompiledRoute
from access_gateway.runtime import GatewayRuntime
from access_gateway.upstream.client import UpstreamCall

__all__ = ["Caller", "InternalHandler", "Pipeline"]

_PUBLIC_TENANT = "_public"


class Caller:
    """Who is calling, as far as the pipeline has established it."""

    __slots__ = ("ip", "principal", "tenant")

    def __init__(self, ip: str) -> None:
        self.ip = ip
        self.principal: VerifiedPrincipal | None = None
        self.tenant: str | None = None


InternalHandler = Callable[[Caller, CompiledRoute, bytes], Awaitable[Response]]


class Pipeline:
    """The endpoint behind ``/api/v1/{path}``: match the table, run the stages."""

    def __init__(self, runtime: GatewayRuntime) -> None:
        self.runtime = runtime
        self.internal: dict[str, InternalHandler] = {}

    async def handle(self, request: Request) -> Response:
        """Serve one request; every answer, errors included, carries Server-Timing."""
        timing = ServerTiming()
        headers: dict[str, str] = {}
        try:
            response = await self._serve(request, timing, headers)
        except AccessError as exc:
            exc.headers = {**headers, **exc.headers, "Server-Timing": timing.header()}
            self._count(request, exc.status)
            raise
        self._count(request, response.status_code)
        # Appended as bytes: the names are the gateway's own and never already present,
        # and MutableHeaders would scan and re-encode the list for each one.
        raw = response.raw_headers
        for name, value in headers.items():
            raw.append((name.encode("latin-1"), value.encode("latin-1")))
        raw.append((b"server-timing", timing.header().encode("latin-1")))
        return response

    def _count(self, request: Request, status: int) -> None:
        route = request.scope.get("route")
        route_id = route.spec.id if isinstance(route, CompiledRoute) else "unmatched"
        self.runtime.pusher.inc(
            "gateway_served_requests_total", labels={"route": route_id, "status": str(status)}
        )

    async def _serve(
        self, request: Request, timing: ServerTiming, headers: dict[str, str]
    ) -> Response:
        runtime = self.runtime
        scope = request.scope
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        if sum(len(k) + len(v) for k, v in raw_headers) > runtime.settings.max_header_bytes:
            raise HeadersTooLarge(details={"limit_bytes": runtime.settings.max_header_bytes})
        route, params = runtime.routes.match(request.method, scope["path"])
        # The request middleware labels metrics with scope["route"].path: the template.
        scope["route"] = route
        # No query string (most reads): no parsing, only the declared defaults.
        query = route.query(request.query_params.multi_items() if scope["query_string"] else [])
        spec = route.spec
        caller = Caller(self._client_ip(request))

        token = bearer_token(request.headers.get("authorization")) if spec.auth else None
        limits = runtime.limits
        tier = limits.tiers[spec.tier]
        if tier.scope == "user" and token is not None:
            principal = runtime.principals.cached(token)
            if principal is None:
                started = timing.start()
                principal = await runtime.principals.verify(token)
                timing.stop("auth", started)
            caller.principal = principal
            subject = f"user:{principal.tenant_id}:{principal.sub}"
        else:
            subject = f"ip:{caller.ip}"
        started = timing.start()
        decision: RateDecision = await limits.hit(spec.tier, subject)
        timing.stop("ratelimit", started)
        headers.update(decision.headers())

        if token is not None:
            if caller.principal is None:
                started = timing.start()
                caller.principal = await runtime.principals.verify(token)
                timing.stop("auth", started)
            principal = caller.principal
            if not principal.tenant_id:
                raise TenantMissing
            caller.tenant = principal.tenant_id
            if spec.roles_any and not set(spec.roles_any) & set(principal.roles):
                raise Forbidden(
                    "A role this route needs is missing",
                    code="ROLE_REQUIRED",
                    details={"roles_any": list(spec.roles_any)},
                )
        body = await request.body() if request.method != "GET" else b""
        if spec.entitlement is not None:
            started = timing.start()
            await self._entitle(caller, route, params, body)
            timing.stop("entitlement", started)

        if spec.upstream.startswith("internal:"):
            handler = self.internal[spec.upstream.removeprefix("internal:")]
            return await handler(caller, route, body)

        upstream = runtime.upstreams[spec.upstream]
        user = caller.principal.sub if caller.principal is not None else None

        async def fetch() -> CachedResponse:
            # Built here, not before the cache: a hit needs none of it.
            call = UpstreamCall(
                method=request.method,
                path=route.upstream_path(params),
                params=[(k, _text(v)) for k, v in query.items()],
                content=body or None,
                headers=upstream_headers(raw_headers, tenant=caller.tenant, user=user),
                timeout=spec.timeout_seconds,
                idempotent=request.method in ("GET", "PUT", "DELETE"),
            )
            started = timing.start()
            try:
                return answer_of(await upstream.send(call), upstream.name, spec.expose_headers)
            finally:
                timing.stop("upstream", started)

        if spec.cache is None:
            entry = await fetch()
            return _response(entry)
        key = cache_key(
            tenant=caller.tenant or _PUBLIC_TENANT,
            route_id=spec.id,
            method=request.method,
            path=scope["path"],
            query=query,
            user=user if spec.cache.per_user else None,
            body=body or None,
        )
        started = timing.start()
        entry, result = await runtime.cache.get(key, spec.id, spec.cache, fetch)
        timing.stop("cache", started, result)
        response = _response(entry)
        response.raw_headers.append((b"x-cache", result.encode("latin-1")))
        if result != "MISS":
            age = max(0, int(runtime.cache.now() - entry.stored_at))
            response.raw_headers.append((b"age", str(age).encode("latin-1")))
        return response

    async def _entitle(
        self, caller: Caller, route: CompiledRoute, params: dict[str, str], body: bytes
    ) -> None:
        rule = route.spec.entitlement
        principal = caller.principal
        assert rule is not None and principal is not None  # noqa: S101 - schema guarantees
        subject = Subject(principal.sub, principal.tenant_id or "", principal.roles)
        if rule.each is None:
            resources = [route.resource(params)]
        else:
            resources = [
                route.resource(params, item) for item in _items(body, rule.each, rule.max_items)
            ]
        client = self.runtime.entitlements
        try:
            if len(resources) == 1:
                decisions = [await client.check(subject, rule.action, resources[0])]
            else:
                decisions = await client.check_batch(subject, [(rule.action, r) for r in resources])
        except BadRequest as exc:
            # The service refused the question itself (e.g. INVALID_RESOURCE for an id
            # with characters no rule can name): the client's path is at fault, not a peer.
            raise BadRequest(
                "The requested resource cannot be named in an entitlement check",
                code="INVALID_RESOURCE",
                details={"cause": exc.code},
            ) from None
        except AccessError as exc:
            # Fail closed: whatever went wrong asking, the answer is not "allow".
            raise EntitlementsUnavailable(
                details={"peer": "entitlements", "cause": exc.code}
            ) from None
        denied = [(r, d) for r, d in zip(resources, decisions, strict=True) if not d.allow]
        if denied:
            resource, decision = denied[0]
            raise EntitlementDenied(
                f"Not allowed to {rule.action} {resource}",
                details={
                    "action": rule.action,
                    "resource": resource,
                    "denied": [r for r, _ in denied][:20],
                    "reason": decision.reason,
                    "rule_id": decision.rule_id,
                    "policy_version": decision.policy_version,
                },
            )

    def _client_ip(self, request: Request) -> str:
        client = request.scope.get("client")
        peer = client[0] if client else None
        return self.runtime.client_ip.text(peer, request.headers.get("x-forwarded-for"))


def _items(body: bytes, field: str, limit: int) -> list[str]:
    """The list of ids named ``field`` in a JSON body: 400 when not JSON, 422 when wrong."""
    try:
        data: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise BadRequest("The body is not valid JSON") from None
    items = data.get(field) if isinstance(data, dict) else None
    loc = ["body", field]
    if not isinstance(items, list) or not items:
        raise ValidationFailed(
            details={
                "errors": [{"loc": loc, "msg": "a non-empty list is required", "type": "list_type"}]
            }
        )
    if len(items) > limit or not all(isinstance(i, str) and 0 < len(i) <= 128 for i in items):
        raise ValidationFailed(
            details={
                "errors": [
                    {
                        "loc": loc,
                        "msg": f"at most {limit} ids of 1-128 characters",
                        "type": "value_error",
                    }
                ]
            }
        )
    return list(dict.fromkeys(items))


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _response(entry: CachedResponse) -> Response:
    response = Response(content=entry.body, status_code=entry.status)
    # Kept upstream headers are distinct, lower-case and never content-length (which
    # Response sets), so they are appended without MutableHeaders' scan per name.
    response.raw_headers.extend(
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in entry.headers
    )
    return response
