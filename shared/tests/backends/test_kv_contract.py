"""The KeyValue contract, run against the in-process store and a real Redis.

The Redis URL comes from ``ACCESS_TEST_REDIS_URL`` (scripts/backends.sh); every test
uses keys under its own random prefix and deletes them afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from access_common.backends.kv import KeyValue, MultiClaim
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.backends.redis_kv import RedisKeyValue
from access_common.errors import BackendError
from access_common.testing import backend_url

SHORT_TTL = 0.2
PAST_SHORT_TTL = 0.4


class Keys:
    """Unique key names for one test, remembered for cleanup."""

    def __init__(self) -> None:
        self.prefix = f"test:{uuid.uuid4().hex}:"
        self.used: set[str] = set()

    def __call__(self, name: str) -> str:
        key = self.prefix + name
        self.used.add(key)
        return key


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def kv(request: pytest.FixtureRequest) -> AsyncIterator[KeyValue]:
    store: KeyValue = (
        MemoryKeyValue() if request.param == "memory" else RedisKeyValue(backend_url("redis"))
    )
    yield store
    await store.close()


@pytest.fixture
async def key(kv: KeyValue) -> AsyncIterator[Callable[[str], str]]:
    keys = Keys()
    yield keys
    if isinstance(kv, RedisKeyValue):
        # A separate client: the test may have closed its own.
        cleanup = RedisKeyValue(backend_url("redis"))
        try:
            for name in keys.used:
                await cleanup.delete(name)
        finally:
            await cleanup.close()


def test_implements_the_protocol(kv: KeyValue) -> None:
    assert isinstance(kv, KeyValue)
    assert kv.name in {"memory", "redis"}


async def test_get_missing_is_none(kv: KeyValue, key: Callable[[str], str]) -> None:
    assert await kv.get(key("missing")) is None


async def test_set_get_overwrite(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("a")
    await kv.set(k, b"one")
    assert await kv.get(k) == b"one"
    await kv.set(k, b"two")
    assert await kv.get(k) == b"two"


async def test_keys_are_independent(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.set(key("a"), b"1")
    await kv.set(key("b"), b"2")
    assert await kv.get(key("a")) == b"1"
    assert await kv.get(key("b")) == b"2"


async def test_binary_values_round_trip(kv: KeyValue, key: Callable[[str], str]) -> None:
    every_byte = bytes(range(256))
    not_utf8 = b"\xff\xfe\x00\x80\xc3\x28"
    await kv.set(key("all"), every_byte)
    await kv.set(key("bad-utf8"), not_utf8)
    await kv.set(key("empty"), b"")
    assert await kv.get(key("all")) == every_byte
    assert await kv.get(key("bad-utf8")) == not_utf8
    assert await kv.get(key("empty")) == b""


async def test_value_expires_after_ttl(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("short")
    await kv.set(k, b"v", ttl=SHORT_TTL)
    assert await kv.get(k) == b"v"
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await kv.get(k) is None
    assert await kv.ttl(k) is None


async def test_overwrite_without_ttl_removes_expiry(
    kv: KeyValue, key: Callable[[str], str]
) -> None:
    k = key("persist")
    await kv.set(k, b"v", ttl=SHORT_TTL)
    await kv.set(k, b"w")
    assert await kv.ttl(k) is None
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await kv.get(k) == b"w"


async def test_ttl_reports_seconds_left(kv: KeyValue, key: Callable[[str], str]) -> None:
    assert await kv.ttl(key("missing")) is None
    await kv.set(key("forever"), b"v")
    assert await kv.ttl(key("forever")) is None
    await kv.set(key("ten"), b"v", ttl=10)
    left = await kv.ttl(key("ten"))
    assert left is not None
    assert 9 < left <= 10


async def test_non_positive_ttl_is_refused(kv: KeyValue, key: Callable[[str], str]) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await kv.set(key("a"), b"v", ttl=0)
    with pytest.raises(ValueError, match="ttl"):
        await kv.set_if_absent(key("a"), b"v", ttl=-1)
    with pytest.raises(ValueError, match="ttl"):
        await kv.incr(key("a"), ttl=0)
    assert await kv.get(key("a")) is None


async def test_set_if_absent(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("nonce")
    assert await kv.set_if_absent(k, b"first") is True
    assert await kv.set_if_absent(k, b"second") is False
    assert await kv.get(k) == b"first"
    assert await kv.delete(k) is True
    assert await kv.set_if_absent(k, b"third") is True
    assert await kv.get(k) == b"third"


async def test_set_if_absent_after_expiry(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("lock")
    assert await kv.set_if_absent(k, b"a", ttl=SHORT_TTL) is True
    assert await kv.set_if_absent(k, b"b", ttl=SHORT_TTL) is False
    left = await kv.ttl(k)
    assert left is not None
    assert 0 < left <= SHORT_TTL
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await kv.set_if_absent(k, b"c") is True
    assert await kv.get(k) == b"c"


async def test_set_if_absent_has_one_winner(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("race")
    values = [f"v{i}".encode() for i in range(50)]
    results = await asyncio.gather(*(kv.set_if_absent(k, v, ttl=30) for v in values))
    assert results.count(True) == 1
    winner = values[results.index(True)]
    assert await kv.get(k) == winner


async def test_set_many_if_absent(kv: KeyValue, key: Callable[[str], str]) -> None:
    assert isinstance(kv, MultiClaim)
    taken, fresh, forever = key("taken"), key("fresh"), key("forever")
    await kv.set(taken, b"old")
    stored = await kv.set_many_if_absent(
        [(taken, b"new", 30), (fresh, b"v", SHORT_TTL), (forever, b"f", None)]
    )
    assert stored == [False, True, True]  # each key on its own, not all or none
    assert await kv.get(taken) == b"old"
    assert await kv.get(fresh) == b"v" and await kv.get(forever) == b"f"
    left = await kv.ttl(fresh)
    assert left is not None and 0 < left <= SHORT_TTL
    assert await kv.ttl(forever) is None
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await kv.set_many_if_absent([(fresh, b"again", 30), (forever, b"x", 30)]) == [
        True,
        False,
    ]
    with pytest.raises(ValueError, match="ttl"):
        await kv.set_many_if_absent([(key("bad"), b"v", 0)])
    assert await kv.get(key("bad")) is None


async def test_incr_counts(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("counter")
    assert await kv.incr(k) == 1
    assert await kv.incr(k) == 2
    assert await kv.incr(k, 5) == 7
    assert await kv.incr(k, -10) == -3
    # Stored as Redis stores it: ASCII digits.
    assert await kv.get(k) == b"-3"


async def test_incr_of_a_set_integer(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("preset")
    await kv.set(k, b"41")
    assert await kv.incr(k) == 42


async def test_incr_of_a_non_integer_is_a_backend_error(
    kv: KeyValue, key: Callable[[str], str]
) -> None:
    k = key("text")
    await kv.set(k, b"not a number")
    with pytest.raises(BackendError) as caught:
        await kv.incr(k)
    assert caught.value.details == {"backend": kv.name}
    assert await kv.get(k) == b"not a number"


async def test_incr_is_atomic(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("hits")
    results = await asyncio.gather(*(kv.incr(k, ttl=30) for _ in range(100)))
    assert sorted(results) == list(range(1, 101))
    assert await kv.get(k) == b"100"


async def test_incr_ttl_applies_only_on_creation(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("window")
    assert await kv.incr(k, ttl=SHORT_TTL) == 1
    # A later ttl must not extend the fixed window.
    assert await kv.incr(k, ttl=100) == 2
    left = await kv.ttl(k)
    assert left is not None
    assert left <= SHORT_TTL
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await kv.get(k) is None
    # The next window starts from scratch, with its own ttl.
    assert await kv.incr(k, ttl=100) == 1
    left = await kv.ttl(k)
    assert left is not None
    assert 99 < left <= 100


async def test_incr_keeps_a_key_without_expiry(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("plain")
    assert await kv.incr(k) == 1
    assert await kv.incr(k, ttl=SHORT_TTL) == 2
    assert await kv.ttl(k) is None


async def test_delete(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("gone")
    assert await kv.delete(k) is False
    await kv.set(k, b"v")
    assert await kv.delete(k) is True
    assert await kv.get(k) is None
    assert await kv.delete(k) is False


async def test_delete_of_an_expired_key(kv: KeyValue, key: Callable[[str], str]) -> None:
    k = key("expired")
    await kv.set(k, b"v", ttl=SHORT_TTL)
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await kv.delete(k) is False


async def test_ping(kv: KeyValue) -> None:
    await kv.ping()


async def test_close_is_idempotent_and_final(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.set(key("a"), b"v")
    await kv.close()
    await kv.close()
    with pytest.raises(BackendError) as caught:
        await kv.get(key("a"))
    assert caught.value.code == "BACKEND_UNAVAILABLE"
    assert caught.value.details == {"backend": kv.name}
    with pytest.raises(BackendError):
        await kv.ping()


# MemoryKeyValue internals: memory must not grow with keys nobody reads again.


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_sweeps_expired_keys_nobody_reads() -> None:
    clock = FakeClock()
    kv = MemoryKeyValue(clock=clock)
    for i in range(1000):
        await kv.set(f"k{i}", b"v", ttl=1)
    await kv.set("forever", b"v")
    clock.now += 2
    await kv.set("trigger", b"v")
    assert set(kv._values) == {"forever", "trigger"}
    assert kv._heap == []


async def test_memory_heap_stays_bounded_under_rewrites() -> None:
    clock = FakeClock()
    kv = MemoryKeyValue(clock=clock)
    for i in range(10_000):
        clock.now += 0.001
        await kv.set("hot", str(i).encode(), ttl=3600)
    assert len(kv._heap) <= 2 + 64
    assert await kv.get("hot") == b"9999"


async def test_memory_expiry_follows_the_clock() -> None:
    clock = FakeClock()
    kv = MemoryKeyValue(clock=clock)
    await kv.set("k", b"v", ttl=5)
    clock.now += 4.5
    assert await kv.ttl("k") == pytest.approx(0.5)
    clock.now += 0.5
    assert await kv.get("k") is None
