"""Reloading the route table and rate limits under traffic, by polling and by SIGHUP."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx

from access_common.backends.memory_kv import MemoryKeyValue
from access_gateway.routing.table import BUILTIN_ROUTES
from access_gateway.testing import (
    FakeAuth,
    FakeEntitlements,
    FakeUpstream,
    bearer,
    gateway,
    gateway_settings,
)

LIMITS = "tiers:\n  authenticated: {requests: %d, window_seconds: 60}\n" \
    "  heavy: {requests: 10, window_seconds: 60}\n" \
    "  cache_writes: {requests: 5, window_seconds: 60}\n"  # fmt: skip


def transports(auth: FakeAuth) -> dict[str, httpx.AsyncBaseTransport]:
    return {
        "auth.test": httpx.MockTransport(auth.handler),
        "entitlements.test": httpx.MockTransport(FakeEntitlements().handler),
        "projection.test": httpx.MockTransport(FakeUpstream().handler),
    }


async def test_reload_under_traffic_drops_nothing(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(BUILTIN_ROUTES.read_text())
    limits = tmp_path / "limits.yaml"
    limits.write_text(LIMITS % 100_000)
    auth = FakeAuth()
    auth.add("t", "alice", "tenant-a")
    settings = gateway_settings(
        routes_file=routes, rate_limits_file=limits, config_reload_seconds=0.05
    )
    async with gateway(settings, transports(auth), MemoryKeyValue()) as client:
        statuses: list[int] = []
        stop = asyncio.Event()

        async def traffic() -> None:
            while not stop.is_set():
                response = await client.get("/api/v1/prices/latest", headers=bearer("t"))
                statuses.append(response.status_code)
                await asyncio.sleep(0)  # in process, a request may never suspend

        workers = [asyncio.create_task(traffic()) for _ in range(4)]
        for limit in (50_000, 60_000, 70_000):
            limits.write_text(LIMITS % limit)
            await asyncio.sleep(0.2)
        # A new route appears, then a broken file is refused and the last good one stays.
        routes.write_text(
            BUILTIN_ROUTES.read_text()
            + "\n  - id: news.latest\n    path: /api/v1/news\n    upstream: projection\n"
        )
        await asyncio.sleep(0.2)
        news = await client.get("/api/v1/news", headers=bearer("t"))
        routes.write_text("routes: [")
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*workers)
        assert statuses and set(statuses) == {200}
        still = await client.get("/api/v1/news", headers=bearer("t"))
        assert news.status_code == still.status_code == 200
        assert still.headers["ratelimit-limit"] == "70000"
        metrics = (await client.get("/metrics")).text
        assert 'gateway_config_reloads_total{file="routes",result="error"}' in metrics
        openapi = (await client.get("/openapi.json")).json()
        assert "/api/v1/news" in openapi["paths"]


async def test_a_limits_file_missing_a_used_tier_is_refused(tmp_path: Path) -> None:
    limits = tmp_path / "limits.yaml"
    limits.write_text(LIMITS % 1000)
    auth = FakeAuth()
    auth.add("t", "alice", "tenant-a")
    settings = gateway_settings(rate_limits_file=limits)
    async with gateway(settings, transports(auth), MemoryKeyValue()) as client:
        limits.write_text("tiers:\n  authenticated: {requests: 7, window_seconds: 60}\n")
        watcher = client.app.state.config_watcher  # type: ignore[attr-defined]
        assert not watcher.reload_now()
        response = await client.get("/api/v1/prices/latest", headers=bearer("t"))
        assert response.headers["ratelimit-limit"] == "1000"


async def test_sighup_reloads(tmp_path: Path) -> None:
    limits = tmp_path / "limits.yaml"
    limits.write_text(LIMITS % 1000)
    auth = FakeAuth()
    auth.add("t", "alice", "tenant-a")
    settings = gateway_settings(rate_limits_file=limits)
    async with gateway(settings, transports(auth), MemoryKeyValue()) as client:
        limits.write_text(LIMITS % 2000)
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.sleep(0.05)
        response = await client.get("/api/v1/prices/latest", headers=bearer("t"))
        assert response.headers["ratelimit-limit"] == "2000"
