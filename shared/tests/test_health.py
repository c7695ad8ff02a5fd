"""Health: dependency states, overall status, readiness gating, bounded checks."""

from __future__ import annotations

import asyncio

from access_common.errors import BackendError
from access_common.health import HealthRegistry


async def _ok() -> None:
    return None


async def _degraded() -> str:
    return "degraded"


async def _down() -> None:
    raise BackendError("gone")


async def _hangs() -> None:
    await asyncio.sleep(30)


async def test_all_ok() -> None:
    registry = HealthRegistry()
    registry.add("redis", _ok)
    report = await registry.report("svc", "1.0", "abc")
    assert report.status == "ok"
    assert report.dependencies == {"redis": "ok"}


async def test_down_dependency_degrades_and_fails_readiness() -> None:
    registry = HealthRegistry()
    registry.add("redis", _down)
    registry.add("peer", _down, required=False)
    report = await registry.report("svc", "1.0", "abc")
    assert report.status == "degraded"
    assert report.dependencies == {"redis": "down", "peer": "down"}
    ready, _ = await registry.ready()
    assert not ready


async def test_optional_dependency_does_not_gate_readiness() -> None:
    registry = HealthRegistry()
    registry.add("peer", _down, required=False)
    registry.add("jwks", _degraded)
    ready, deps = await registry.ready()
    assert ready
    assert deps == {"peer": "down", "jwks": "degraded"}


async def test_hanging_check_is_bounded() -> None:
    registry = HealthRegistry(timeout=0.1)
    registry.add("slow", _hangs)
    async with asyncio.timeout(2):
        assert (await registry.statuses()) == {"slow": "down"}


async def test_critical_dependency_down_means_service_down() -> None:
    registry = HealthRegistry()
    registry.add("jwks", _down, critical=True)
    registry.add("redis", _ok)
    report = await registry.report("auth", "1.0", "abc")
    assert report.status == "down"
    ready, _ = await registry.ready()
    assert not ready
