"""Test helpers: fake peers and upstreams behind one transport, and a gateway to call.

Used by service-gateway's tests and the cross-service tests in ``tests/gateway``;
nothing here runs in the service itself. Each fake counts its calls and can be told to
fail or to be slow, so tests see single flight, breakers and fail-closed behaviour.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from access_common.backends.kv import KeyValue
from access_common.http import HttpClient
from access_common.lifecycle import Resources
from access_gateway.app import create_app
from access_gateway.settings import GatewaySettings

__all__ = [
    "AUTH_URL",
    "ENTITLEMENTS_URL",
    "UPSTREAM_URL",
    "FakeAuth",
    "FakeEntitlements",
    "FakeUpstream",
    "HostRouter",
    "bearer",
    "day_limits",
    "gateway",
    "gateway_settings",
]

AUTH_URL = "http://auth.test"
ENTITLEMENTS_URL = "http://entitlements.test"
UPSTREAM_URL = "http://projection.test"


class HostRouter(httpx.AsyncBaseTransport):
    """Send each request to the transport registered for its host."""

    def __init__(self, routes: Mapping[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = dict(routes)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Dispatch by host; an unknown host is a connection error."""
        transport = self.routes.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no route to {request.url.host}", request=request)
        return await transport.handle_async_request(request)


@dataclass
class FakeAuth:
    """``POST /auth/verify``: tokens it knows map to principals; others get TOKEN_INVALID."""

    principals: dict[str, dict[str, Any]] = field(default_factory=dict)
    down: bool = False
    calls: int = 0

    def add(
        self, token: str, sub: str, tenant: str | None, roles: tuple[str, ...] = ("trader",),
        *, ttl: int = 300,
    ) -> str:  # fmt: skip
        """Know a token; returns it."""
        self.principals[token] = {
            "sub": sub, "tenant_id": tenant, "roles": list(roles), "scopes": [],
            "exp": int(time.time()) + ttl, "claims": {"sub": sub},
        }  # fmt: skip
        return token

    async def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer a verification."""
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("auth is down", request=request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        principal = self.principals.get(token)
        if principal is None:
            body = {"trace_id": "t", "code": "TOKEN_INVALID", "message": "bad", "details": {}}
            return httpx.Response(401, json=body, headers={"www-authenticate": "Bearer"})
        return httpx.Response(200, json=principal)


@dataclass
class FakeEntitlements:
    """``POST /entitlements/check`` (and check-batch): allow unless (user, resource) is denied."""

    denied: set[tuple[str, str]] = field(default_factory=set)
    invalid: set[str] = field(default_factory=set)  # resources answered 422 INVALID_RESOURCE
    down: bool = False
    calls: int = 0
    ttl: int = 60
    policy_version: int = 1

    def _decide(self, user: str, resource: str) -> dict[str, Any]:
        allow = (user, resource) not in self.denied
        return {"allow": allow, "ttl_seconds": self.ttl, "reason": "test rule",
                "rule_id": "r1" if allow else "deny-1"}  # fmt: skip

    async def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer a check or a batch (and the policy-version long poll, not counted)."""
        polling = request.url.path.endswith("/policy-versions")
        if not polling:
            self.calls += 1
        if self.down:
            raise httpx.ConnectError("entitlements is down", request=request)
        if polling:
            return await _no_policy_change(request)
        body = orjson.loads(request.content)
        if body.get("resource") in self.invalid:
            error = {"trace_id": "t", "code": "INVALID_RESOURCE", "message": "bad", "details": {}}
            return httpx.Response(422, json=error)
        if request.url.path.endswith("check-batch"):
            decisions = [self._decide(body["user_id"], c["resource"]) for c in body["checks"]]
            return httpx.Response(
                200, json={"policy_version": self.policy_version, "decisions": decisions}
            )
        decision = self._decide(body["user_id"], body["resource"])
        return httpx.Response(200, json={**decision, "policy_version": self.policy_version})


async def _no_policy_change(request: httpx.Request) -> httpx.Response:
    """``GET /entitlements/policy-versions``: a long poll that sees no change."""
    if "cursor" in request.url.params:
        await asyncio.sleep(float(request.url.params.get("wait", "1")))
    return httpx.Response(200, json={"cursor": "0", "full": True, "versions": {}})


@dataclass
class FakeUpstream:
    """The projection upstream: echoes tenant, path and query; counts calls per path."""

    status: int = 200
    delay: float = 0.0
    down: bool = False
    calls: dict[str, int] = field(default_factory=dict)
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    version: int = 0
    padding: int = 0

    @property
    def total(self) -> int:
        """Every call so far."""
        return sum(self.calls.values())

    async def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer like the projection service would."""
        path = request.url.path
        self.calls[path] = self.calls.get(path, 0) + 1
        self.seen_headers.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            raise httpx.ConnectError("upstream is down", request=request)
        if path == "/health/live":
            return httpx.Response(200, json={"status": "ok"})
        if self.status != 200:
            return httpx.Response(self.status, json={"error": "upstream says no"})
        if path.endswith("/MISSING") or path.endswith("/MISSING-FWD"):
            missing = {"trace_id": "x", "code": "CURVE_NOT_FOUND", "message": "No", "details": {}}
            return httpx.Response(404, json=missing)
        body: dict[str, Any] = {
            "tenant_id": request.headers.get("x-tenant-id"),
            "path": path,
            "query": dict(request.url.params),
            "version": self.version,
            "padding": "x" * self.padding,
        }
        return httpx.Response(200, json=body, headers={"x-total-count": "42"})


_DAY_LIMITS = """tiers:
  public: {requests: 100, window_seconds: 86400, scope: ip}
  authenticated: {requests: 1000, window_seconds: 86400}
  heavy: {requests: 10, window_seconds: 86400}
  cache_writes: {requests: 5, window_seconds: 86400}
"""


def day_limits(folder: Path) -> Path:
    """A limits file with the seed's budgets over a day-long window, written into ``folder``.

    A test that crossed a window boundary would see its counts reset; with the window a
    day long, none can.
    """
    path = folder / "limits.yaml"
    path.write_text(_DAY_LIMITS)
    return path


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


def gateway_settings(**overrides: Any) -> GatewaySettings:
    """Gateway settings pointing at the fake hosts (no reload polling unless asked)."""
    values: dict[str, Any] = {
        "env": "test",
        "auth_service_url": AUTH_URL,
        "entitlements_service_url": ENTITLEMENTS_URL,
        "projection_service_url": UPSTREAM_URL,
        "config_reload_seconds": 0,
        "redis_url": None,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@asynccontextmanager
async def gateway(
    settings: GatewaySettings,
    transports: Mapping[str, httpx.AsyncBaseTransport],
    kv: KeyValue | None,
) -> AsyncIterator[httpx.AsyncClient]:
    """Run a gateway whose peers and upstreams are the given transports; yield a client."""
    from asgi_lifespan import LifespanManager  # noqa: PLC0415 - a dev dependency, tests only

    http = HttpClient(transport=HostRouter(transports), timeout=2.0, retries=0)
    resources = Resources(
        http=http,
        kv=kv,
        peers={
            "auth": settings.auth_service_url,
            "entitlements": settings.entitlements_service_url,
        },
    )
    app = create_app(settings, resources=resources)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
