"""Gateway requests by route and status reach the metrics service through the pusher."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from access_common.backends.memory_kv import MemoryKeyValue
from access_gateway.testing import bearer, gateway, gateway_settings

from .conftest import Peers


async def test_requests_by_route_and_status_are_pushed(peers: Peers, unique: str) -> None:
    pushed: list[dict[str, Any]] = []

    async def metrics(request: httpx.Request) -> httpx.Response:
        samples = orjson.loads(request.content)["samples"]
        pushed.extend(samples)
        return httpx.Response(200, json={"accepted": len(samples), "refused": 0})

    transports = {**peers.transports(), "metrics.test": httpx.MockTransport(metrics)}
    settings = gateway_settings(metrics_service_url="http://metrics.test")
    async with gateway(settings, transports, MemoryKeyValue()) as client:
        token = await peers.token(f"alice-{unique}", f"tenant-{unique}")
        for _ in range(2):
            assert (
                await client.get("/api/v1/instruments", headers=bearer(token))
            ).status_code == 200
        assert (await client.get("/api/v1/instruments")).status_code == 401
        assert (await client.get("/api/v1/nowhere", headers=bearer(token))).status_code == 404
        await client.app.state.gateway.pusher.flush()  # type: ignore[attr-defined]
    counts = {
        (s["labels"]["route"], s["labels"]["status"]): s["value"]
        for s in pushed
        if s["name"] == "gateway_served_requests_total"
    }
    assert counts == {
        ("instruments.list", "200"): 2,
        ("instruments.list", "401"): 1,
        ("unmatched", "404"): 1,
    }
    assert all(s["source"] == "gateway" for s in pushed)


async def test_a_metrics_service_down_costs_requests_nothing(peers: Peers, unique: str) -> None:
    settings = gateway_settings(metrics_service_url="http://metrics-down.test")
    async with gateway(settings, peers.transports(), MemoryKeyValue()) as client:
        token = await peers.token(f"alice-{unique}", f"tenant-{unique}")
        assert (await client.get("/api/v1/instruments", headers=bearer(token))).status_code == 200
        pusher = client.app.state.gateway.pusher  # type: ignore[attr-defined]
        assert await pusher.flush() == 0
        metrics = (await client.get("/metrics")).text
        assert 'metrics_push_dropped_samples_total{reason="unreachable"} 1.0' in metrics
