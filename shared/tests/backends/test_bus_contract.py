"""The bus contract: every engine (memory, NATS JetStream, Kafka) passes the same suite.

Order is asserted per key only: Kafka topics here have several partitions, and the
contract promises order for messages that share a key.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable

import pytest

from access_common.backends.bus import Bus, Message, Subscription
from access_common.errors import BackendError

BusFactory = Callable[[], Awaitable[Bus]]

# Generous for Kafka group joins; a passing run never waits this long.
RECEIVE_TIMEOUT = 20.0


async def take(subscription: Subscription, count: int) -> list[Message]:
    """Exactly ``count`` messages, or fail after RECEIVE_TIMEOUT."""
    received: list[Message] = []
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        async for message in subscription:
            received.append(message)
            if len(received) == count:
                break
    return received


async def assert_silent(subscription: Subscription, wait: float = 0.5) -> None:
    """Nothing arrives within ``wait`` seconds."""
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(wait):
            message = await anext(aiter(subscription))
            pytest.fail(f"unexpected message {message!r}")


async def publish_all(bus: Bus, topic: str, values: list[bytes], key: bytes = b"k") -> list[int]:
    return [await bus.publish(topic, value, key=key) for value in values]


def values(messages: list[Message]) -> list[bytes]:
    return [m.value for m in messages]


def group_name() -> str:
    return f"g-{uuid.uuid4().hex[:12]}"


async def test_publish_returns_increasing_offsets(bus: Bus, topic: str) -> None:
    offsets = await publish_all(bus, topic, [b"%d" % i for i in range(10)])
    assert offsets == sorted(offsets)
    assert len(set(offsets)) == len(offsets)
    assert all(offset >= 0 for offset in offsets)


async def test_earliest_sees_history_in_order(bus: Bus, topic: str) -> None:
    before_ms = time.time() * 1000 - 60_000
    sent = [b"m%d" % i for i in range(5)]
    offsets = await publish_all(bus, topic, sent)
    async with await bus.subscribe([topic], start="earliest") as subscription:
        received = await take(subscription, 5)
    assert values(received) == sent
    assert [m.offset for m in received] == offsets
    assert all(m.topic == topic and m.key == b"k" for m in received)
    assert all(before_ms < m.timestamp_ms < before_ms + 120_000 for m in received)


async def test_latest_sees_only_new_messages(bus: Bus, topic: str) -> None:
    await publish_all(bus, topic, [b"old1", b"old2"])
    subscription = await bus.subscribe([topic], start="latest")
    # Published right after subscribe() returns: the reader must already be positioned.
    await publish_all(bus, topic, [b"new1", b"new2"])
    assert values(await take(subscription, 2)) == [b"new1", b"new2"]
    await assert_silent(subscription)
    await subscription.close()


async def test_latest_on_a_topic_never_used(bus: Bus, topic: str) -> None:
    subscription = await bus.subscribe([topic])
    await bus.publish(topic, b"first", key=b"k")
    assert values(await take(subscription, 1)) == [b"first"]
    await subscription.close()


async def test_subscribe_from_an_offset(bus: Bus, topic: str) -> None:
    sent = [b"m%d" % i for i in range(5)]
    offsets = await publish_all(bus, topic, sent)
    async with await bus.subscribe([topic], start=offsets[2]) as subscription:
        received = await take(subscription, 3)
        assert values(received) == sent[2:]
        assert [m.offset for m in received] == offsets[2:]
        await assert_silent(subscription)


async def test_key_and_headers_round_trip(bus: Bus, topic: str) -> None:
    cases: list[tuple[bytes | None, dict[str, str]]] = [
        (b"user-42", {"trace-id": "abc123", "content-type": "application/json"}),
        (b"\x00\xff\xfebinary\r\n", {"city": "Zoë in 東京 ✓"}),
        (b" padded ", {}),
        (b"", {"x-empty": ""}),
        (None, {"only": "headers"}),
        (None, {}),
    ]
    subscription = await bus.subscribe([topic])
    for index, (key, headers) in enumerate(cases):
        await bus.publish(topic, b"v%d" % index, key=key, headers=headers)
    received = sorted(await take(subscription, len(cases)), key=lambda m: m.value)
    await subscription.close()
    for message, (key, headers) in zip(received, cases, strict=True):
        assert message.key == key
        assert dict(message.headers) == headers


async def test_binary_value_round_trips(bus: Bus, topic: str) -> None:
    value = bytes(range(256)) * 64
    subscription = await bus.subscribe([topic])
    await bus.publish(topic, value)
    (message,) = await take(subscription, 1)
    await subscription.close()
    assert message.value == value
    assert message.key is None


async def test_order_per_key_across_200_messages(bus: Bus, topic: str) -> None:
    keys = [b"key-%d" % k for k in range(7)]
    sent: dict[bytes, list[bytes]] = defaultdict(list)
    for i in range(200):
        key = keys[i % len(keys)]
        value = b"%s:%d" % (key, i)
        sent[key].append(value)
        await bus.publish(topic, value, key=key)
    async with await bus.subscribe([topic], start="earliest") as subscription:
        received = await take(subscription, 200)
    by_key: dict[bytes, list[bytes]] = defaultdict(list)
    offsets: dict[tuple[bytes, int], list[int]] = defaultdict(list)
    for message in received:
        assert message.key is not None
        by_key[message.key].append(message.value)
        offsets[(message.key, message.partition)].append(message.offset)
    assert by_key == sent
    assert all(o == sorted(o) for o in offsets.values())


async def test_two_broadcast_readers_both_see_every_message(
    bus_factory: BusFactory, topic: str
) -> None:
    """The known trap: two instances must each see every partition, not share them."""
    first_bus = await bus_factory()
    # Two service instances are two buses, except in-process where there is only one.
    second_bus = first_bus if first_bus.name == "memory" else await bus_factory()
    first = await first_bus.subscribe([topic])
    second = await second_bus.subscribe([topic])
    sent = {b"m%d" % i for i in range(40)}
    for i, value in enumerate(sorted(sent)):
        await first_bus.publish(topic, value, key=b"key-%d" % (i % 10))
    assert {m.value for m in await take(first, 40)} == sent
    assert {m.value for m in await take(second, 40)} == sent
    await first.close()
    await second.close()


async def test_group_resumes_after_last_commit(bus_factory: BusFactory, topic: str) -> None:
    bus = await bus_factory()
    sent = [b"m%d" % i for i in range(6)]
    await publish_all(bus, topic, sent)
    group = group_name()
    subscription = await bus.subscribe([topic], group=group, start="earliest")
    received = await take(subscription, 3)
    assert values(received) == sent[:3]
    await subscription.commit(received[-1])
    await subscription.close()

    # A restarted instance (a new bus, except in-process) resumes at the 4th message.
    again_bus = bus if bus.name == "memory" else await bus_factory()
    again = await again_bus.subscribe([topic], group=group, start="earliest")
    assert values(await take(again, 3)) == sent[3:]
    await again.close()


async def test_group_redelivers_what_was_not_committed(bus: Bus, topic: str) -> None:
    sent = [b"m%d" % i for i in range(4)]
    await publish_all(bus, topic, sent)
    group = group_name()
    subscription = await bus.subscribe([topic], group=group, start="earliest")
    first = await take(subscription, 2)
    await subscription.commit(first[0])
    await subscription.close()
    again = await bus.subscribe([topic], group=group, start="latest")
    assert values(await take(again, 3)) == sent[1:]
    await again.close()


async def test_group_position_ignores_start_once_committed(bus: Bus, topic: str) -> None:
    await publish_all(bus, topic, [b"a", b"b", b"c"])
    group = group_name()
    subscription = await bus.subscribe([topic], group=group, start="earliest")
    received = await take(subscription, 3)
    await subscription.commit(received[-1])
    await subscription.close()
    await bus.publish(topic, b"d", key=b"k")
    # start="earliest" no longer applies: the group has a position.
    again = await bus.subscribe([topic], group=group, start="earliest")
    assert values(await take(again, 1)) == [b"d"]
    await again.close()


async def test_a_new_group_starts_where_start_says(bus: Bus, topic: str) -> None:
    sent = [b"m%d" % i for i in range(3)]
    offsets = await publish_all(bus, topic, sent)
    committed = await bus.subscribe([topic], group=group_name(), start="earliest")
    await committed.commit((await take(committed, 3))[-1])
    await committed.close()

    from_earliest = await bus.subscribe([topic], group=group_name(), start="earliest")
    from_latest = await bus.subscribe([topic], group=group_name(), start="latest")
    from_offset = await bus.subscribe([topic], group=group_name(), start=offsets[1])
    await bus.publish(topic, b"new", key=b"k")
    assert values(await take(from_earliest, 4)) == [*sent, b"new"]
    assert values(await take(from_latest, 1)) == [b"new"]
    assert values(await take(from_offset, 3)) == [*sent[1:], b"new"]
    for subscription in (from_earliest, from_latest, from_offset):
        await subscription.close()


async def test_one_subscription_reads_several_topics(bus: Bus, topic: str) -> None:
    # A second topic in another namespace (another NATS stream).
    other = f"bustestb.{uuid.uuid4().hex}"
    subscription = await bus.subscribe([topic, other], start="latest")
    for i in range(3):
        await bus.publish(topic, b"a%d" % i, key=b"k")
        await bus.publish(other, b"b%d" % i, key=b"k")
    received = await take(subscription, 6)
    await subscription.close()
    assert [m.value for m in received if m.topic == topic] == [b"a0", b"a1", b"a2"]
    assert [m.value for m in received if m.topic == other] == [b"b0", b"b1", b"b2"]


async def test_group_over_several_topics_commits_each(bus: Bus, topic: str) -> None:
    other = f"bustestb.{uuid.uuid4().hex}"
    await bus.publish(topic, b"a0", key=b"k")
    await bus.publish(other, b"b0", key=b"k")
    group = group_name()
    subscription = await bus.subscribe([topic, other], group=group, start="earliest")
    for message in await take(subscription, 2):
        await subscription.commit(message)
    await subscription.close()
    await bus.publish(topic, b"a1", key=b"k")
    await bus.publish(other, b"b1", key=b"k")
    again = await bus.subscribe([topic, other], group=group, start="earliest")
    assert sorted(values(await take(again, 2))) == [b"a1", b"b1"]
    await again.close()


async def test_close_is_idempotent_and_ends_iteration(bus: Bus, topic: str) -> None:
    subscription = await bus.subscribe([topic])

    async def next_message() -> Message:
        return await anext(aiter(subscription))

    waiting = asyncio.create_task(next_message())
    await asyncio.sleep(0.1)
    await subscription.close()
    with pytest.raises(StopAsyncIteration):
        async with asyncio.timeout(5):
            await waiting
    await subscription.close()
    async with asyncio.timeout(5):
        assert [m async for m in subscription] == []


async def test_bus_close_ends_its_subscriptions(bus_factory: BusFactory, topic: str) -> None:
    bus = await bus_factory()
    subscription = await bus.subscribe([topic])
    await bus.close()
    await bus.close()
    async with asyncio.timeout(5):
        assert [m async for m in subscription] == []
    with pytest.raises(BackendError):
        await bus.publish(topic, b"after close")


async def test_subscription_is_a_context_manager(bus: Bus, topic: str) -> None:
    async with await bus.subscribe([topic]) as subscription:
        assert isinstance(subscription, Subscription)
        await bus.publish(topic, b"x")
        assert values(await take(subscription, 1)) == [b"x"]
    async with asyncio.timeout(5):
        assert [m async for m in subscription] == []


async def test_ping_and_start_are_idempotent(bus: Bus) -> None:
    await bus.start()
    await bus.ping()
    assert isinstance(bus, Bus)
    assert bus.name in {"memory", "nats", "kafka"}


async def test_subscribe_rejects_bad_arguments(bus: Bus, topic: str) -> None:
    with pytest.raises(ValueError, match="topic"):
        await bus.subscribe([])
    with pytest.raises(ValueError, match="offset"):
        await bus.subscribe([topic], start=-1)


async def test_bounds_span_the_retained_messages(bus: Bus, topic: str) -> None:
    before = await bus.bounds(topic)
    assert all(first <= end for first, end in before.values())
    offsets = await publish_all(bus, topic, [b"a", b"b", b"c"])
    after = await bus.bounds(topic)
    # Every message sits in one partition whose end is past it and whose start is not.
    for offset in offsets:
        assert any(first <= offset < end for first, end in after.values())
    assert sum(end for _, end in after.values()) >= sum(end for _, end in before.values()) + 3
