"""The real auth service (dev issuer) in process, real Redis, and gateways to call."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from access_auth.app import create_app as create_auth
from access_auth.settings import AuthSettings
from access_common.backends.kv import KeyValue
from access_gateway.settings import GatewaySettings
from access_gateway.testing import FakeEntitlements, FakeUpstream, gateway, gateway_settings


@dataclass
class Peers:
    """Real auth (in process), fake entitlements and upstream, and a token minter."""

    auth: httpx.ASGITransport
    raw_auth: httpx.AsyncClient
    entitlements: FakeEntitlements
    upstream: FakeUpstream

    def transports(self) -> dict[str, httpx.AsyncBaseTransport]:
        return {
            "auth.test": self.auth,
            "entitlements.test": httpx.MockTransport(self.entitlements.handler),
            "projection.test": httpx.MockTransport(self.upstream.handler),
        }

    async def token(self, sub: str, tenant: str, **extra: Any) -> str:
        body = {"sub": sub, "tenant_id": tenant, "roles": ["trader"], **extra}
        response = await self.raw_auth.post("/auth/dev/token", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Peers]:
    app = create_auth(AuthSettings(env="local", state_dir=tmp_path, jwt_leeway_seconds=0))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth.test") as raw:
            yield Peers(transport, raw, FakeEntitlements(), FakeUpstream())


@pytest.fixture
def unique() -> str:
    """A suffix that keeps this test's tenants, users and Redis keys its own."""
    return uuid.uuid4().hex[:12]


Gateway = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def make_gateway(peers: Peers) -> Gateway:
    """Start a gateway replica on a given key-value store with settings overrides."""

    def start(kv: KeyValue, **overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        settings: GatewaySettings = gateway_settings(**overrides)
        return gateway(settings, peers.transports(), kv)

    return start
