"""Fixtures: a gateway with fake auth, entitlements and projection upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from access_common.backends.memory_kv import MemoryKeyValue
from access_gateway.runtime import GatewayRuntime
from access_gateway.testing import (
    FakeAuth,
    FakeEntitlements,
    FakeUpstream,
    day_limits,
    gateway,
    gateway_settings,
)


@dataclass
class Stack:
    client: httpx.AsyncClient
    auth: FakeAuth
    entitlements: FakeEntitlements
    upstream: FakeUpstream
    kv: MemoryKeyValue

    @property
    def app(self) -> FastAPI:
        app: FastAPI = self.client.app  # type: ignore[attr-defined]
        return app

    @property
    def runtime(self) -> GatewayRuntime:
        runtime: GatewayRuntime = self.app.state.gateway
        return runtime


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    auth, ent, up = FakeAuth(), FakeEntitlements(), FakeUpstream()
    auth.add("tok-alice", "alice", "tenant-a")
    auth.add("tok-bob", "bob", "tenant-b")
    auth.add("tok-notenant", "nobody", None)
    kv = MemoryKeyValue()
    transports = {
        "auth.test": httpx.MockTransport(auth.handler),
        "entitlements.test": httpx.MockTransport(ent.handler),
        "projection.test": httpx.MockTransport(up.handler),
    }
    settings = gateway_settings(rate_limits_file=day_limits(tmp_path))
    async with gateway(settings, transports, kv) as client:
        yield Stack(client, auth, ent, up, kv)
