"""Answers too large to relay, and a cache warm whose hot queries file is missing."""

from __future__ import annotations

from pathlib import Path

import httpx

from access_common.backends.memory_kv import MemoryKeyValue
from access_gateway.testing import (
    FakeAuth,
    FakeEntitlements,
    FakeUpstream,
    bearer,
    gateway,
    gateway_settings,
)


async def test_oversized_upstream_answer_and_missing_hot_queries(tmp_path: Path) -> None:
    auth, upstream = FakeAuth(), FakeUpstream(padding=5000)
    auth.add("t", "alice", "tenant-a")
    transports = {
        "auth.test": httpx.MockTransport(auth.handler),
        "entitlements.test": httpx.MockTransport(FakeEntitlements().handler),
        "projection.test": httpx.MockTransport(upstream.handler),
    }
    settings = gateway_settings(
        upstream_max_body_bytes=4096,
        cache_max_body_bytes=1024,
        hot_served_queries_file=tmp_path / "absent.json",
    )
    async with gateway(settings, transports, MemoryKeyValue()) as client:
        big = await client.get("/api/v1/curves/BIG", headers=bearer("t"))
        assert big.status_code == 502
        assert big.json()["code"] == "UPSTREAM_BAD_RESPONSE"
        assert big.json()["details"] == {"upstream": "projection", "limit_bytes": 4096}
        upstream.padding = 2000  # relayed, but too large to keep in the cache
        first = await client.get("/api/v1/curves/MID", headers=bearer("t"))
        second = await client.get("/api/v1/curves/MID", headers=bearer("t"))
        assert first.status_code == second.status_code == 200
        assert second.headers["x-cache"] == "MISS"
        warm = await client.post("/api/v1/cache/warm", headers=bearer("t"))
        assert warm.status_code == 503
        assert warm.json()["code"] == "HOT_QUERIES_UNAVAILABLE"
