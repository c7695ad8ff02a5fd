"""Redis lost under a running gateway: still served, warm local limiter, health degraded;
Redis back: the shared budget again, without a restart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from access_common.backends.redis_kv import RedisKeyValue
from access_common.testing import backend_url, redis_server
from access_gateway.testing import bearer, day_limits

from .conftest import Gateway, Peers

pytestmark = pytest.mark.redis


async def test_switch_to_the_warm_local_limiter_and_back(
    peers: Peers, make_gateway: Gateway, unique: str, tmp_path: Path
) -> None:
    backend_url("redis")  # a real Redis is required: this test starts its own throwaway one
    server = redis_server()
    server.start()
    try:
        token = await peers.token(f"alice-{unique}", f"tenant-{unique}")
        kv = RedisKeyValue(f"redis://127.0.0.1:{server.port}/0")
        async with make_gateway(kv, rate_limits_file=day_limits(tmp_path)) as client:
            heavy = "/api/v1/curves/recompute"
            for _ in range(4):
                response = await client.post(heavy, json={}, headers=bearer(token))
                assert response.status_code == 200
            cached = await client.get("/api/v1/curves/NG-HH-FWD", headers=bearer(token))
            assert cached.headers["x-cache"] == "MISS"

            server.stop()
            # Served at once from this replica's warm share: 6 of the 10 were left.
            statuses = []
            for _ in range(7):
                response = await client.post(heavy, json={}, headers=bearer(token))
                statuses.append(response.status_code)
            assert statuses == [200] * 6 + [429]
            hit = await client.get("/api/v1/curves/NG-HH-FWD", headers=bearer(token))
            assert hit.status_code == 200
            assert hit.headers["x-cache"] == "HIT"  # the in-process tier still answers
            fresh = await client.get("/api/v1/curves/TTF-FWD", headers=bearer(token))
            assert fresh.status_code == 200  # cache store bypassed, upstream answers
            health = (await client.get("/health")).json()
            assert health["status"] == "degraded"
            assert health["dependencies"]["redis"] == "down"
            assert health["dependencies"]["ratelimit"] == "degraded"
            ready = await client.get("/health/ready")
            assert ready.status_code == 200  # Redis is not required to serve
            metrics = (await client.get("/metrics")).text
            assert "gateway_ratelimit_store_switches_total 1.0" in metrics
            assert "gateway_ratelimit_degraded 1.0" in metrics

            server.start()
            await asyncio.sleep(1.1)  # the limiter retries the store once a second
            back = await client.post(heavy, json={}, headers=bearer(token))
            # The new Redis is empty: the hits counted alone (7) are carried into it.
            assert back.status_code == 200
            assert back.headers["ratelimit-remaining"] == "2"
            health = (await client.get("/health")).json()
            assert health["dependencies"]["redis"] == "ok"
            assert health["dependencies"]["ratelimit"] == "ok"
            metrics = (await client.get("/metrics")).text
            assert "gateway_ratelimit_degraded 0.0" in metrics
    finally:
        server.close()
