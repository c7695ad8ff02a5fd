"""A backend going down degrades /health within seconds, without a crash; recovery needs no restart.

Each test runs a real server of its own (Redis, PostgreSQL, NATS JetStream) so it can
kill it and start it again on the same port, under a service configured for it.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from access_common.testing import (
    LocalServer,
    free_port,
    kafka_server,
    nats_server,
    postgres_server,
    redis_server,
)

pytestmark = pytest.mark.timeout(180)


@asynccontextmanager
async def running(
    service: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, state: Path
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("ACCESS_STATE_DIR", str(state))
    monkeypatch.setenv("ACCESS_HEALTH_CHECK_TIMEOUT_SECONDS", "1.5")
    for var in (
        "ACCESS_REDIS_URL",
        "ACCESS_POSTGRES_DSN",
        "ACCESS_NATS_URL",
        "ACCESS_KAFKA_BOOTSTRAP",
    ):
        monkeypatch.delenv(var, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = importlib.import_module(f"access_{service}.app").create_app()
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client


async def wait_for(client: httpx.AsyncClient, dependency: str, want: str, within: float) -> float:
    """Poll /health until the dependency reports ``want``; return how long it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    last: dict[str, object] = {}
    while loop.time() - started < within:
        last = (await client.get("/health")).json()
        deps = last["dependencies"]
        assert isinstance(deps, dict)
        if deps.get(dependency) == want:
            return loop.time() - started
        await asyncio.sleep(0.25)
    raise AssertionError(f"{dependency} never became {want} within {within}s: {last}")


async def outage_and_recovery(
    client: httpx.AsyncClient, server: LocalServer, name: str, *, required: bool = True
) -> None:
    await wait_for(client, name, "ok", within=15)
    server.stop()
    await wait_for(client, name, "down", within=5)
    health = (await client.get("/health")).json()
    assert health["status"] == "degraded"
    # Entitlements keeps serving cached decisions and loaded policies without PostgreSQL
    # (docs/entitlements.md), the gateway keeps serving without Redis (docs/gateway.md):
    # neither gates readiness; the others' backends do.
    assert (await client.get("/health/ready")).status_code == (503 if required else 200)
    assert (await client.get("/health/live")).status_code == 200
    await asyncio.to_thread(server.start)
    await wait_for(client, name, "ok", within=20)
    assert (await client.get("/health/ready")).status_code == 200


OUTAGES = {
    # dependency: (service configured for it, its variable, URL template, server factory)
    "redis": ("gateway", "ACCESS_REDIS_URL", "redis://127.0.0.1:{port}/0",
              lambda tmp: redis_server()),
    "postgres": ("entitlements", "ACCESS_POSTGRES_DSN",
                 "postgresql://postgres@127.0.0.1:{port}/postgres", lambda tmp: postgres_server()),
    "nats": ("streaming", "ACCESS_NATS_URL", "nats://127.0.0.1:{port}",
             lambda tmp: nats_server(tmp / "js")),
    "kafka": ("streaming", "ACCESS_KAFKA_BOOTSTRAP", "127.0.0.1:{port}",
              lambda tmp: kafka_server(tmp / "kafka")),
}  # fmt: skip


@pytest.mark.parametrize("dependency", list(OUTAGES))
async def test_outage_degrades_health_and_recovers_without_restart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dependency: str
) -> None:
    service, variable, template, make_server = OUTAGES[dependency]
    server = await asyncio.to_thread(make_server, tmp_path)
    await asyncio.to_thread(server.start, 60)
    try:
        env = {variable: template.format(port=server.port)}
        async with running(service, env, monkeypatch, tmp_path) as client:
            await outage_and_recovery(
                client, server, dependency, required=service not in ("gateway", "entitlements")
            )
    finally:
        server.close()


@pytest.mark.parametrize("dependency", list(OUTAGES))
async def test_backend_down_at_start_does_not_crash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dependency: str
) -> None:
    service, variable, template, _ = OUTAGES[dependency]
    env = {variable: template.format(port=free_port())}
    async with running(service, env, monkeypatch, tmp_path) as client:
        await wait_for(client, dependency, "down", within=10)
        assert (await client.get("/health")).json()["status"] == "degraded"
