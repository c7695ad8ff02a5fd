"""RateLimiter: fixed windows, one budget across replicas, warm local fallback and back."""

from __future__ import annotations

import asyncio
import gc
import uuid

import pytest

from access_common.backends.memory_kv import MemoryKeyValue
from access_common.backends.redis_kv import RedisKeyValue
from access_common.errors import BackendError
from access_common.ratelimit import Limit, RateLimiter
from access_common.testing import backend_url


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Flaky(MemoryKeyValue):
    """A key-value store whose connection can be cut."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        if self.down:
            raise BackendError("cut")
        return await super().incr(key, amount, ttl=ttl)


def degraded(limiter: RateLimiter) -> bool:
    # A function, so mypy does not carry a narrowed property across the awaits.
    return limiter.degraded


async def test_within_and_over_the_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(MemoryKeyValue(), clock=clock)
    limit = Limit(3, 60)
    decisions = [await limiter.hit("user:alice", limit) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    refused = decisions[-1]
    assert refused.retry_after == pytest.approx(20.0)
    assert refused.headers() == {
        "RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "20",
        "Retry-After": "20",
    }  # fmt: skip
    assert "Retry-After" not in decisions[0].headers()


async def test_a_new_window_starts_a_new_count() -> None:
    clock = Clock()
    limiter = RateLimiter(MemoryKeyValue(), clock=clock)
    limit = Limit(1, 60)
    assert (await limiter.hit("k", limit)).allowed
    assert not (await limiter.hit("k", limit)).allowed
    clock.now += 60
    assert (await limiter.hit("k", limit)).allowed


async def test_keys_are_independent() -> None:
    limiter = RateLimiter(MemoryKeyValue(), clock=Clock())
    limit = Limit(1, 60)
    assert (await limiter.hit("user:a", limit)).allowed
    assert (await limiter.hit("user:b", limit)).allowed


async def test_without_a_store_it_counts_in_process() -> None:
    limiter = RateLimiter(None, clock=Clock())
    limit = Limit(2, 10)
    assert [(await limiter.hit("k", limit)).allowed for _ in range(3)] == [True, True, False]
    assert not limiter.degraded


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="requests"):
        Limit(0, 60)
    with pytest.raises(ValueError, match="window"):
        Limit(1, 0)


async def test_store_loss_switches_to_a_warm_share_and_back() -> None:
    clock, ticks = Clock(), Clock(0.0)
    kv = Flaky()
    limiter = RateLimiter(kv, replicas=2, clock=clock, monotonic=ticks, retry_seconds=1.0)
    limit = Limit(10, 60)
    for _ in range(4):
        assert (await limiter.hit("k", limit)).allowed
    kv.down = True
    # 6 left when the store went away; this replica takes half of them, at once.
    local = [await limiter.hit("k", limit) for _ in range(4)]
    assert [d.allowed for d in local] == [True, True, True, False]
    assert [d.remaining for d in local] == [2, 1, 0, 0]
    assert degraded(limiter)
    assert limiter.switches == 1
    kv.down = False
    ticks.now += 1.5
    back = await limiter.hit("k", limit)
    assert not degraded(limiter)
    # The hits counted alone are carried into the shared count: 4 + 4 + 1.
    assert await kv.get("rl:k:60:16666") == b"9"
    assert back.allowed and back.remaining == 1


async def test_a_down_store_is_not_asked_on_every_hit() -> None:
    ticks = Clock(0.0)
    kv = Flaky()
    kv.down = True
    calls = 0
    original = kv.incr

    async def counting(key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        nonlocal calls
        calls += 1
        return await original(key, amount, ttl=ttl)

    kv.incr = counting  # type: ignore[method-assign]
    limiter = RateLimiter(kv, clock=Clock(), monotonic=ticks, retry_seconds=5.0)
    for _ in range(10):
        await limiter.hit("k", Limit(100, 60))
    assert calls == 1
    assert limiter.switches == 1


@pytest.mark.redis
async def test_two_replicas_share_one_budget_in_redis() -> None:
    url = backend_url("redis")
    first, second = RedisKeyValue(url), RedisKeyValue(url)
    try:
        prefix = f"rltest-{uuid.uuid4().hex}"
        a = RateLimiter(first, prefix=prefix)
        b = RateLimiter(second, prefix=prefix)
        limit = Limit(5, 60)
        answers = [await (a if i % 2 else b).hit("user:alice", limit) for i in range(7)]
        assert [d.allowed for d in answers] == [True] * 5 + [False] * 2
    finally:
        await first.close()
        await second.close()


async def test_while_degraded_only_one_hit_probes_the_store() -> None:
    ticks = Clock(0.0)
    kv = Flaky()
    kv.down = True
    limiter = RateLimiter(kv, clock=Clock(), monotonic=ticks, retry_seconds=1.0)
    await limiter.hit("k", Limit(100, 60))
    assert degraded(limiter)
    probes = 0
    original = kv.incr

    async def hanging(key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        nonlocal probes
        probes += 1
        await asyncio.sleep(0.05)
        return await original(key, amount, ttl=ttl)

    kv.incr = hanging  # type: ignore[method-assign]
    ticks.now += 1.5
    decisions = await asyncio.gather(*(limiter.hit("k", Limit(100, 60)) for _ in range(10)))
    assert probes == 1
    assert all(d.allowed for d in decisions)


class Counting:
    """A KeyValue that counts INCRBYs and passes them to a real store underneath."""

    def __init__(self, inner: RedisKeyValue) -> None:
        self.inner = inner
        self.calls = 0

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        self.calls += 1
        return await self.inner.incr(key, amount, ttl=ttl)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.mark.redis
async def test_two_leasing_replicas_never_exceed_the_limit_under_concurrency() -> None:
    url = backend_url("redis")
    first, second = RedisKeyValue(url), RedisKeyValue(url)
    try:
        for requests in (7, 50, 1000):
            prefix = f"rltest-{uuid.uuid4().hex}"
            a = RateLimiter(first, prefix=prefix, replicas=2)
            b = RateLimiter(second, prefix=prefix, replicas=2)
            limit = Limit(requests, 60)

            async def burst(limiter: RateLimiter, n: int, limit: Limit = limit) -> int:
                decisions = await asyncio.gather(*(limiter.hit("user:a", limit) for _ in range(n)))
                return sum(d.allowed for d in decisions)

            allowed = 0
            # Waves of concurrent hits on both replicas until both are refused.
            for _ in range(40):
                got = await asyncio.gather(burst(a, 30), burst(b, 30))
                allowed += sum(got)
                if not any(got):
                    break
            assert allowed <= requests
            # Leases unused when both stop are the only hits that can be stranded.
            assert allowed >= requests - 2 * a._max_block
            assert allowed == requests, (requests, allowed)
    finally:
        await first.close()
        await second.close()


@pytest.mark.redis
async def test_far_from_the_limit_a_replica_asks_the_store_once_per_block() -> None:
    store = RedisKeyValue(backend_url("redis"))
    counting = Counting(store)
    try:
        limiter = RateLimiter(counting, prefix=f"rltest-{uuid.uuid4().hex}", max_block=100)  # type: ignore[arg-type]
        limit = Limit(1_000_000, 60)
        for _ in range(1000):
            assert (await limiter.hit("user:a", limit)).allowed
            await asyncio.sleep(0)  # lets a background refill land, as requests would
        # 1000 hits in blocks of 100: about ten store calls, not a thousand.
        assert counting.calls <= 12
        assert limiter.store_calls == counting.calls
    finally:
        await store.close()


async def test_hits_within_a_lease_do_not_wait_on_the_store() -> None:
    kv = MemoryKeyValue()
    limiter = RateLimiter(kv, clock=Clock(), max_block=10)
    limit = Limit(1000, 60)
    await limiter.hit("k", limit)  # the first hit of a window leases a block
    leased_calls = limiter.store_calls
    blocked = asyncio.Event()
    original = kv.incr

    async def slow(key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        await blocked.wait()
        return await original(key, amount, ttl=ttl)

    kv.incr = slow  # type: ignore[method-assign]
    # Served from the lease while the background refill hangs on the store.
    for _ in range(5):
        decision = await asyncio.wait_for(limiter.hit("k", limit), 0.5)
        assert decision.allowed
    assert limiter.store_calls == leased_calls + 1  # one refill in flight, not one per hit
    blocked.set()


async def test_near_the_limit_blocks_shrink_to_one_hit() -> None:
    kv = MemoryKeyValue()
    limiter = RateLimiter(kv, clock=Clock(), max_block=100)
    limit = Limit(40, 60)
    decisions = []
    for _ in range(45):
        decisions.append(await limiter.hit("k", limit))
        await asyncio.sleep(0)
    assert [d.allowed for d in decisions] == [True] * 40 + [False] * 5
    assert [d.remaining for d in decisions[-6:]] == [0] * 6
    # The refused hits were answered from the spent count, without asking the store.
    assert await kv.get("rl:k:60:16666") == b"40"


async def test_an_unspent_lease_is_part_of_the_warm_share() -> None:
    clock, ticks = Clock(), Clock(0.0)
    kv = Flaky()
    limiter = RateLimiter(kv, clock=clock, monotonic=ticks, max_block=100)
    limit = Limit(100, 60)
    await limiter.hit("k", limit)  # leases 25, spends 1
    await asyncio.sleep(0)  # no refill: 24 left is more than half a block
    assert await kv.get("rl:k:60:16666") == b"25"
    kv.down = True
    # 24 leased + all 75 not handed out (one replica) = 99 more, then refused.
    local = [await limiter.hit("k", limit) for _ in range(100)]
    assert [d.allowed for d in local] == [True] * 99 + [False]
    assert degraded(limiter)
    kv.down = False
    ticks.now += 1.5
    back = await limiter.hit("k", limit)
    assert not back.allowed
    # 100 local hits: 24 paid by the lease, 76 carried over, plus the probe's block.
    assert int(await kv.get("rl:k:60:16666") or 0) >= 101


class Faulty(MemoryKeyValue):
    """A store whose client raises something other than BackendError (a bug)."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        if self.broken:
            raise RuntimeError("unexpected")
        return await super().incr(key, amount, ttl=ttl)


async def test_an_unexpected_refill_error_is_logged_once_counted_and_never_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    ticks = Clock(0.0)
    kv = Faulty()
    limiter = RateLimiter(kv, clock=Clock(), monotonic=ticks, retry_seconds=1.0, max_block=4)
    limit = Limit(1000, 60)
    assert (await limiter.hit("k", limit)).allowed  # a lease of 4
    kv.broken = True
    caplog.set_level("WARNING", logger="access_common.ratelimit")
    # Spending the lease starts a background refill nobody awaits; it fails.
    for _ in range(3):
        assert (await limiter.hit("k", limit)).allowed
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert degraded(limiter)
    ticks.now += 1.5
    # A hit that waits on the probe: it still gets a decision, not the exception.
    assert (await limiter.hit("k", limit)).allowed
    assert limiter.refill_errors == 2
    assert limiter.switches == 1
    failures = [r for r in caplog.records if r.exc_info and "unexpectedly" in r.getMessage()]
    assert len(failures) == 1
    kv.broken = False
    ticks.now += 1.5
    assert (await limiter.hit("k", limit)).allowed
    assert not degraded(limiter)
    gc.collect()
    await asyncio.sleep(0)
    assert unhandled == []
