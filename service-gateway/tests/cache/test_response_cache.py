"""ResponseCache: single flight, stale-while-revalidate, stale-on-error, store loss."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from access_common.backends.memory_kv import MemoryKeyValue
from access_common.errors import BackendError
from access_gateway.cache import CachedResponse, ResponseCache, cache_key
from access_gateway.errors import UpstreamError
from access_gateway.metrics import GatewayMetrics
from access_gateway.routing.schema import CachePolicy

POLICY = CachePolicy(ttl_min=10, ttl_max=10, stale_seconds=100)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class BrokenKv(MemoryKeyValue):
    calls = 0

    async def get(self, key: str) -> bytes | None:
        self.calls += 1
        raise BackendError("down")

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        self.calls += 1
        raise BackendError("down")


def make(kv: MemoryKeyValue | None = None, clock: Clock | None = None) -> ResponseCache:
    metrics = GatewayMetrics(CollectorRegistry())
    return ResponseCache(kv, metrics, clock=clock or Clock())


class Origin:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.gate: asyncio.Event | None = None

    async def fetch(self) -> CachedResponse:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise UpstreamError("projection")
        return CachedResponse(
            200, (("content-type", "application/json"),), b'{"n": %d}' % self.calls
        )


async def test_concurrent_misses_make_one_call() -> None:
    cache, origin = make(MemoryKeyValue()), Origin()
    origin.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.get("k", "r", POLICY, origin.fetch)) for _ in range(50)]
    await asyncio.sleep(0.01)
    origin.gate.set()
    answers = await asyncio.gather(*waiting)
    assert origin.calls == 1
    assert {result for _, result in answers} == {"MISS"}
    assert {entry.body for entry, _ in answers} == {b'{"n": 1}'}


async def test_stale_is_served_while_one_refresh_runs_and_while_it_fails() -> None:
    clock = Clock()
    cache, origin = make(MemoryKeyValue(), clock), Origin()
    await cache.get("k", "r", POLICY, origin.fetch)
    clock.now += 11  # past fresh, inside the stale window
    origin.fail = True
    for _ in range(5):
        entry, result = await cache.get("k", "r", POLICY, origin.fetch)
        assert result == "STALE"
        assert entry.body == b'{"n": 1}'
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert 1 < origin.calls <= 6  # refreshes run one at a time, all failed
    origin.fail = False
    await cache.get("k", "r", POLICY, origin.fetch)
    await asyncio.sleep(0.01)
    entry, result = await cache.get("k", "r", POLICY, origin.fetch)
    assert result == "HIT"
    assert entry.body != b'{"n": 1}'
    clock.now += 1000  # past the stale window: a miss, and its error reaches the caller
    origin.fail = True
    with pytest.raises(UpstreamError):
        await cache.get("k", "r", POLICY, origin.fetch)


async def test_entries_are_shared_through_the_store() -> None:
    kv = MemoryKeyValue()
    first, second, origin = make(kv), make(kv), Origin()
    await first.get("k", "r", POLICY, origin.fetch)
    _, result = await second.get("k", "r", POLICY, origin.fetch)
    assert result == "HIT"
    assert origin.calls == 1


async def test_store_loss_keeps_serving_from_the_lru_and_stops_asking() -> None:
    kv = BrokenKv()
    cache, origin = make(kv), Origin()
    _, first = await cache.get("k", "r", POLICY, origin.fetch)
    assert first == "MISS"
    for _ in range(20):
        _, result = await cache.get("k", "r", POLICY, origin.fetch)
        assert result == "HIT"
    assert kv.calls <= 2  # the first get failed; nothing asked the dead store again


async def test_errors_and_non_200_are_not_cached() -> None:
    cache = make(MemoryKeyValue())
    calls = 0

    async def not_found() -> CachedResponse:
        nonlocal calls
        calls += 1
        return CachedResponse(404, (), b"{}")

    for _ in range(3):
        entry, result = await cache.get("k", "r", POLICY, not_found)
        assert (entry.status, result) == (404, "MISS")
    assert calls == 3


def test_keys_hold_the_tenant_and_normalised_query() -> None:
    a = cache_key(tenant="t-a", route_id="r", method="GET", path="/p", query={"x": 1, "y": 2})
    b = cache_key(tenant="t-b", route_id="r", method="GET", path="/p", query={"x": 1, "y": 2})
    a2 = cache_key(tenant="t-a", route_id="r", method="GET", path="/p", query={"y": 2, "x": 1})
    assert a.startswith("gw:c:t-a:r:")
    assert a != b
    assert a == a2
    per_user = cache_key(
        tenant="t-a", route_id="r", method="GET", path="/p", query={}, user="alice"
    )
    assert per_user != cache_key(tenant="t-a", route_id="r", method="GET", path="/p", query={})


def test_entry_round_trip() -> None:
    entry = CachedResponse(200, (("content-type", "a/b"),), b"x\ny", 1.0, 2.0, 3.0, 0.5)
    assert CachedResponse.decode(entry.encode()) == entry
    assert CachedResponse.decode(b"garbage") is None
    assert CachedResponse.decode(b"{}\nbody") is None
