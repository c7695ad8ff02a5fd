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


async def outage_and_recovery(client: httpx.AsyncClient, server: LocalServer, name: str) -> None:
    await wait_for(client, name, "ok", within=15)
    server.stop()
    await wait_for(client, name, "down", within=5)
    health = (await client.get("/health")).json()
    assert health["status"] == "degraded"
    assert (await client.get("/health/ready")).status_code == 503
    assert (await client.get("/health/live")).status_code == 200
    await asyncio.to_thread(server.start)
    await wait_for(client, name, "ok", within=20)
    assert (await client.get("/health/ready")).status_code == 200


async def test_redis_outage_degrades_gateway(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with redis_server() as server:
        env = {"ACCESS_REDIS_URL": f"redis://127.0.0.1:{server.port}/0"}
        async with running("gateway", env, monkeypatch, tmp_path) as client:
            await outage_and_recovery(client, server, "redis")


async def test_postgres_outage_degrades_entitlements(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with postgres_server() as server:
        env = {"ACCESS_POSTGRES_DSN": f"postgresql://postgres@127.0.0.1:{server.port}/postgres"}
        async with running("entitlements", env, monkeypatch, tmp_path) as client:
            await outage_and_recovery(client, server, "postgres")


async def test_nats_outage_degrades_streaming(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with nats_server(tmp_path / "js") as server:
        env = {"ACCESS_NATS_URL": f"nats://127.0.0.1:{server.port}"}
        async with running("streaming", env, monkeypatch, tmp_path) as client:
            await outage_and_recovery(client, server, "nats")


async def test_kafka_outage_degrades_streaming(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = await asyncio.to_thread(kafka_server, tmp_path / "kafka")
    await asyncio.to_thread(server.start, 60)
    try:
        env = {"ACCESS_KAFKA_BOOTSTRAP": f"127.0.0.1:{server.port}"}
        async with running("streaming", env, monkeypatch, tmp_path) as client:
            await outage_and_recovery(client, server, "kafka")
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("service", "variable", "value", "dependency"),
    [
        ("gateway", "ACCESS_REDIS_URL", "redis://127.0.0.1:{port}/0", "redis"),
        ("entitlements", "ACCESS_POSTGRES_DSN", "postgresql://x@127.0.0.1:{port}/x", "postgres"),
        ("streaming", "ACCESS_NATS_URL", "nats://127.0.0.1:{port}", "nats"),
        ("streaming", "ACCESS_KAFKA_BOOTSTRAP", "127.0.0.1:{port}", "kafka"),
    ],
)
async def test_backend_down_at_start_does_not_crash(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    service: str,
    variable: str,
    value: str,
    dependency: str,
) -> None:
    env = {variable: value.format(port=free_port())}
    async with running(service, env, monkeypatch, tmp_path) as client:
        await wait_for(client, dependency, "down", within=10)
        assert (await client.get("/health")).json()["status"] == "degraded"
