"""Rate-limit tiers: the seed's defaults, file validation, the 429 they produce."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from access_common.backends.memory_kv import MemoryKeyValue
from access_common.ratelimit import RateLimiter
from access_gateway.errors import RateLimitExceeded
from access_gateway.metrics import GatewayMetrics
from access_gateway.ratelimit import RateLimits, TierTable, TierTableError


def test_defaults_are_the_seed_tiers() -> None:
    tiers = TierTable.load(None)
    assert {n: (t.requests, t.window_seconds, t.scope) for n, t in tiers.tiers.items()} == {
        "public": (100, 60, "ip"),
        "authenticated": (1000, 60, "user"),
        "heavy": (10, 60, "user"),
        "cache_writes": (5, 60, "user"),
        "streaming_connect": (30, 60, "ip"),
    }


def test_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "rl.yaml"
    path.write_text("tiers: {x: {requests: 0, window_seconds: 60}}")
    with pytest.raises(TierTableError, match="requests"):
        TierTable.load(path)
    path.write_text("tiers: [")
    with pytest.raises(TierTableError, match="YAML"):
        TierTable.load(path)


async def test_refusal_carries_headers_and_details() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    limits = RateLimits(RateLimiter(MemoryKeyValue()), TierTable.load(None), metrics)
    for _ in range(5):
        decision = await limits.hit("cache_writes", "user:t:a")
        assert decision.allowed
    with pytest.raises(RateLimitExceeded) as info:
        await limits.hit("cache_writes", "user:t:a")
    assert info.value.details["tier"] == "cache_writes"
    assert info.value.headers["RateLimit-Remaining"] == "0"
    assert "Retry-After" in info.value.headers


async def test_replicas_are_counted_through_the_store() -> None:
    kv = MemoryKeyValue()
    metrics = GatewayMetrics(CollectorRegistry())
    replicas = [RateLimits(RateLimiter(kv), TierTable.load(None), metrics, kv=kv) for _ in range(3)]
    for replica in replicas:
        await replica.check_in(now=1000.0)
    for replica in replicas:
        await replica.check_in(now=1010.0)
    assert all(replica.limiter.replicas == 3 for replica in replicas)


async def test_unexpected_refill_errors_are_exported() -> None:
    class Broken(MemoryKeyValue):
        async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
            raise RuntimeError("a fault, not a lost store")

    registry = CollectorRegistry()
    limits = RateLimits(RateLimiter(Broken()), TierTable.load(None), GatewayMetrics(registry))
    decision = await limits.hit("authenticated", "alice")
    assert decision.allowed  # served from the local share, as for a lost store
    assert registry.get_sample_value("gateway_ratelimit_refill_errors_total") == 1.0
    assert registry.get_sample_value("gateway_ratelimit_store_switches_total") == 1.0
