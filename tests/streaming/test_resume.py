"""Resume from the broker on real Kafka and real NATS: no gap, no duplicate, gaps announced.

A client resumes with the offset of the last message it received (WebSocket ``since``,
SSE ``Last-Event-ID``); the service replays from the Kafka offset or JetStream sequence
while new messages keep arriving, then continues live.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import nats
import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from access_common.backends import Bus
from access_common.backends.kafka_bus import KafkaBus
from access_common.backends.nats_bus import NatsBus
from access_common.testing import backend_url
from access_streaming.testing import (
    FakeEntitlements,
    read_sse,
    recv_json,
    recv_type,
    registry_for,
    send_json,
    ws_connect,
)
from access_streaming.topics import TopicRegistry

from .conftest import Mint, StartStreaming

pytestmark = pytest.mark.timeout(120)

BUSES = [
    pytest.param("kafka", marks=pytest.mark.kafka),
    pytest.param("nats", marks=pytest.mark.nats),
]


@asynccontextmanager
async def publisher(bus: str) -> AsyncIterator[Bus]:
    """A bus of its own, as another process would have (Kafka topics: one partition)."""
    engine: Bus = KafkaBus(backend_url("kafka")) if bus == "kafka" else NatsBus(backend_url("nats"))
    await engine.start()
    try:
        yield engine
    finally:
        await engine.close()


def tick(seq: int) -> bytes:
    return orjson.dumps({"seq": seq})


async def publish_range(bus: Bus, topic: str, seqs: range) -> None:
    for seq in seqs:
        await bus.publish(topic, tick(seq))


async def data_seqs(ws: Any, count: int, within: float = 15) -> list[dict[str, Any]]:
    return [await recv_type(ws, "data", within=within) for _ in range(count)]


async def assert_quiet(ws: Any, wait: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        message = await recv_json(ws, within=wait)
        pytest.fail(f"unexpected {message}")


def position(message: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {message["topic"]: {str(message["partition"]): message["offset"]}}


async def resume(ws: Any, topic: str, since: dict[str, Any]) -> None:
    await recv_type(ws, "connection_established")
    await send_json(ws, {"action": "subscribe", "data": {"topics": [topic], "since": since}})
    await recv_type(ws, "subscribed")


def streaming_buses(bus: str) -> dict[str, bool]:
    return {"nats": bus == "nats", "kafka": bus == "kafka"}


@pytest.mark.parametrize("bus", BUSES)
async def test_resume_after_reconnect_while_publishing_has_no_gap_and_no_duplicate(
    bus: str, start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    registry = registry_for(prices=bus)
    (prices,) = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with publisher(bus) as pub, start_streaming(registry, **streaming_buses(bus)) as server:
        async with await ws_connect(server, token) as ws:
            await recv_type(ws, "connection_established")
            await send_json(ws, {"action": "subscribe", "data": {"topics": [prices]}})
            await recv_type(ws, "subscribed")
            await publish_range(pub, prices, range(0, 5))
            got = await data_seqs(ws, 3)  # two left unread: the client never saw them
        assert [m["data"]["seq"] for m in got] == [0, 1, 2]
        await publish_range(pub, prices, range(5, 10))
        async with await ws_connect(server, token) as ws:
            await resume(ws, prices, position(got[-1]))
            # New messages keep coming while the replay runs: the handover must be exact.
            feeder = asyncio.create_task(publish_range(pub, prices, range(10, 30)))
            received = await data_seqs(ws, 27)
            await feeder
            assert [m["data"]["seq"] for m in received] == list(range(3, 30))
            offsets = [m["offset"] for m in received]
            assert offsets == sorted(set(offsets))
            await assert_quiet(ws)
            await publish_range(pub, prices, range(30, 32))
            assert [m["data"]["seq"] for m in await data_seqs(ws, 2)] == [30, 31]


@pytest.mark.parametrize("bus", BUSES)
async def test_resume_across_a_streaming_restart(
    bus: str, start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    registry = registry_for(prices=bus)
    (prices,) = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with publisher(bus) as pub:
        async with (
            start_streaming(registry, **streaming_buses(bus)) as first,
            await ws_connect(first, token) as ws,
        ):
            await recv_type(ws, "connection_established")
            await send_json(ws, {"action": "subscribe", "data": {"topics": [prices]}})
            await recv_type(ws, "subscribed")
            await publish_range(pub, prices, range(0, 4))
            last = (await data_seqs(ws, 4))[-1]
        # The instance is gone; messages published meanwhile wait in the broker.
        await publish_range(pub, prices, range(4, 9))
        async with (
            start_streaming(registry, **streaming_buses(bus)) as second,
            await ws_connect(second, token) as ws,
        ):
            await resume(ws, prices, position(last))
            assert [m["data"]["seq"] for m in await data_seqs(ws, 5)] == [4, 5, 6, 7, 8]
            await publish_range(pub, prices, range(9, 11))
            assert [m["data"]["seq"] for m in await data_seqs(ws, 2)] == [9, 10]
            await assert_quiet(ws)


async def _drop_oldest(bus: str, topic: str, before: int) -> None:
    """Make retention drop every message of the topic before offset ``before``."""
    if bus == "kafka":
        admin = AIOKafkaAdminClient(bootstrap_servers=backend_url("kafka"))
        await admin.start()
        try:
            await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before)})
        finally:
            await admin.close()
        return
    client = await nats.connect(backend_url("nats"))
    try:
        js = client.jetstream()
        stream = await js.find_stream_name_by_subject(topic)
        await js.purge_stream(stream, seq=before)
    finally:
        await client.close()


async def _delete_nats_stream(topic: str) -> None:
    client = await nats.connect(backend_url("nats"))
    try:
        js = client.jetstream()
        await js.delete_stream(await js.find_stream_name_by_subject(topic))
    finally:
        await client.close()


@pytest.mark.parametrize("bus", BUSES)
async def test_a_position_older_than_retention_gets_a_gap_message(
    bus: str, start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    # A stream of its own on NATS (purging the shared test stream would hit other tests).
    prices = f"gaptest{uuid.uuid4().hex[:10]}.prices"
    registry = TopicRegistry.from_dict(
        {"topic": [{"name": prices, "bus": bus, "required_role": "analyst"}]}
    )
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    try:
        async with publisher(bus) as pub:
            offsets = [await pub.publish(prices, tick(seq)) for seq in range(6)]
            await _drop_oldest(bus, prices, offsets[4])
            async with (
                start_streaming(registry, **streaming_buses(bus)) as server,
                await ws_connect(server, token) as ws,
            ):
                await resume(ws, prices, {prices: {"0": offsets[1]}})
                gap = await recv_type(ws, "gap")
                assert gap == {
                    "type": "gap",
                    "topic": prices,
                    "partition": 0,
                    "from": offsets[2],
                    "to": offsets[4] - 1,
                    "count": offsets[4] - offsets[2],
                    "reason": "retention",
                }
                assert [m["data"]["seq"] for m in await data_seqs(ws, 2)] == [4, 5]
                async with httpx.AsyncClient(base_url=server.http_url) as client:
                    stats = (await client.get("/stats")).json()
                assert stats["delivery"][prices]["gap_retention"] == 1
    finally:
        if bus == "nats":
            await _delete_nats_stream(prices)


@asynccontextmanager
async def sse_subscribed(
    client: httpx.AsyncClient, token: str, topic: str, last_event_id: str | None = None
) -> AsyncIterator[AsyncIterator[Any]]:
    """An SSE stream (with Last-Event-ID when given) subscribed to the topic."""
    headers = {"last-event-id": last_event_id} if last_event_id else {}
    async with client.stream(
        "GET", "/sse/stream", params={"token": token}, headers=headers
    ) as response:
        events = read_sse(response.aiter_lines())
        hello = await anext(events)
        assert hello.event == "connection_established"
        form = {"connection_id": hello.data["connection_id"], "topic": topic}
        answer = await client.post(
            "/sse/subscribe", data=form, headers={"authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text
        yield events


async def sse_data(events: AsyncIterator[Any], count: int) -> list[Any]:
    got: list[Any] = []
    async with asyncio.timeout(15):
        async for event in events:
            if event.event == "data":
                got.append(event)
                if len(got) == count:
                    break
    return got


@pytest.mark.parametrize("bus", BUSES)
async def test_sse_last_event_id_resumes_that_topic(
    bus: str, start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    registry = registry_for(prices=bus)
    (prices,) = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with (
        publisher(bus) as pub,
        start_streaming(registry, **streaming_buses(bus)) as server,
        httpx.AsyncClient(base_url=server.http_url, timeout=10) as client,
    ):
        async with sse_subscribed(client, token, prices) as events:
            await publish_range(pub, prices, range(0, 3))
            seen = await sse_data(events, 2)
        assert [e.data["data"]["seq"] for e in seen] == [0, 1]
        last = seen[-1]
        assert last.id == f"{prices}:{last.data['partition']}:{last.data['offset']}"
        await publish_range(pub, prices, range(3, 5))
        async with sse_subscribed(client, token, prices, last_event_id=last.id) as events:
            resumed = await sse_data(events, 3)
            await publish_range(pub, prices, range(5, 6))
            resumed += await sse_data(events, 1)
        assert [e.data["data"]["seq"] for e in resumed] == [2, 3, 4, 5]
