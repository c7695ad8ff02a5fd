"""Real Kafka and real NATS: the right messages reach the right WebSocket and SSE subscribers.

Kafka topics here have three partitions (created by the publisher before any reader
exists), so the tests also prove that an instance reads every partition.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest

from access_common.backends import Bus
from access_common.backends.kafka_bus import KafkaBus
from access_common.backends.nats_bus import NatsBus
from access_common.testing import backend_url
from access_streaming.testing import (
    FakeEntitlements,
    SseEvent,
    StreamingServer,
    read_sse,
    recv_json,
    recv_type,
    registry_for,
    send_json,
    ws_connect,
)

from .conftest import Mint, StartStreaming

pytestmark = pytest.mark.timeout(120)

SseClient = tuple[httpx.AsyncClient, AsyncIterator[SseEvent]]
BUSES = [
    pytest.param("kafka", marks=pytest.mark.kafka),
    pytest.param("nats", marks=pytest.mark.nats),
]


@asynccontextmanager
async def publisher(bus: str, topic: str) -> AsyncIterator[Bus]:
    """A bus of its own (another process would be the same), the topic created first."""
    engine: Bus = (
        KafkaBus(backend_url("kafka"), partitions=3)
        if bus == "kafka"
        else NatsBus(backend_url("nats"))
    )
    await engine.start()
    try:
        await engine.publish(topic, b'{"warm": true}', key=b"warm")
        yield engine
    finally:
        await engine.close()


@asynccontextmanager
async def sse_stream(server: StreamingServer, token: str) -> AsyncIterator[SseClient]:
    async with (
        httpx.AsyncClient(base_url=server.http_url, timeout=10) as client,
        client.stream("GET", "/sse/stream", params={"token": token}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield client, read_sse(response.aiter_lines())


async def next_event(events: AsyncIterator[SseEvent], kind: str, timeout: float = 10) -> SseEvent:
    async with asyncio.timeout(timeout):
        while True:
            event = await anext(events)
            if event.event == kind:
                return event


@pytest.mark.parametrize("bus", BUSES)
async def test_entitled_subscribers_get_filtered_messages_and_nobody_else(
    bus: str, start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    registry = registry_for(prices=bus)
    prices = registry.names()[0]
    entitlements.allow("tenant-a", "analyst", prices)
    entitlements.allow("tenant-b", "trader", "something.else")
    alice = await mint("alice", "tenant-a", ("analyst",))
    viewer = await mint("victor", "tenant-a", ("viewer",))
    bob = await mint("bob", "tenant-b", ("analyst", "trader"))
    async with (
        publisher(bus, prices) as pub,
        start_streaming(registry, nats=bus == "nats", kafka=bus == "kafka") as server,
        await ws_connect(server, alice) as ws_alice,
        await ws_connect(server, viewer) as ws_viewer,
        await ws_connect(server, bob) as ws_bob,
        sse_stream(server, alice) as (client, events),
    ):
        for ws in (ws_alice, ws_viewer, ws_bob):
            await recv_json(ws)
            await send_json(ws, {"action": "subscribe", "data": {
                "topics": [prices], "filters": {"commodity": "oil"}}})  # fmt: skip
        assert (await recv_type(ws_alice, "subscribed"))["topics"] == [prices]
        for ws in (ws_viewer, ws_bob):
            denied = await recv_type(ws, "error")
            assert denied["error"] == "SUBSCRIPTION_DENIED"
            assert denied["details"] == {"topic": prices, "required_role": "analyst"}

        hello = await next_event(events, "connection_established")
        connection_id = hello.data["connection_id"]
        assert hello.data["user_id"] == "alice"
        form = {"connection_id": connection_id, "topic": prices, "filters": '{"commodity":"oil"}'}
        answer = await client.post(
            "/sse/subscribe", data=form, headers={"authorization": f"Bearer {alice}"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "success": True,
            "topic": prices,
            "filters": {"commodity": "oil"},
            "connection_id": connection_id,
        }
        stolen = await client.post(
            "/sse/subscribe", data=form, headers={"authorization": f"Bearer {bob}"}
        )
        assert stolen.status_code == 404
        assert stolen.json()["code"] == "CONNECTION_NOT_FOUND"

        sent = [
            {"instrument_id": f"I{i}", "commodity": "oil" if i % 2 else "gas", "price": 70 + i}
            for i in range(12)
        ]
        for item in sent:
            await pub.publish(prices, orjson.dumps(item), key=str(item["instrument_id"]).encode())
        wanted = [item for item in sent if item["commodity"] == "oil"]

        got_ws = [(await recv_type(ws_alice, "data", within=15)) for _ in wanted]
        assert sorted(m["data"]["instrument_id"] for m in got_ws) == sorted(
            w["instrument_id"] for w in wanted
        )
        assert all(m["data"] in wanted for m in got_ws)
        if bus == "kafka":
            assert len({m["partition"] for m in got_ws}) > 1  # several partitions were read
        got_sse = [await next_event(events, "data") for _ in wanted]
        assert sorted(e.data["data"]["instrument_id"] for e in got_sse) == sorted(
            w["instrument_id"] for w in wanted
        )
        for event in got_sse:
            assert event.id == f"{prices}:{event.data['partition']}:{event.data['offset']}"
            assert set(event.data) == {"topic", "data", "timestamp", "partition", "offset"}

        # The others got nothing: their next message is the answer to a ping.
        for ws in (ws_viewer, ws_bob):
            await send_json(ws, {"action": "ping"})
            assert (await recv_json(ws))["type"] == "pong"
        stats = (await client.get("/stats")).json()
        section = stats[bus]
        assert section["topics"] == [prices]
        assert section["consumers"] == 1
        assert section["messages_consumed"] >= len(sent)
        assert stats["subscriptions"]["topics"] == {prices: 2}
        assert stats["websocket"]["active_connections"] == 3
        assert stats["sse"]["active_connections"] == 1


@pytest.mark.parametrize("bus", BUSES)
async def test_two_instances_both_deliver_every_message(
    bus: str, start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    registry = registry_for(curves=bus)
    curves = registry.names()[0]
    entitlements.allow("tenant-a", "analyst", curves)
    token = await mint("alice", "tenant-a")
    options = {"nats": bus == "nats", "kafka": bus == "kafka"}
    async with (
        publisher(bus, curves) as pub,
        start_streaming(registry, **options) as first,
        start_streaming(registry, **options) as second,
        await ws_connect(first, token) as ws1,
        await ws_connect(second, token) as ws2,
    ):
        for ws in (ws1, ws2):
            await recv_json(ws)
            await send_json(ws, {"action": "subscribe", "data": {"topics": [curves]}})
            await recv_type(ws, "subscribed")
        count = 60
        for i in range(count):
            await pub.publish(curves, orjson.dumps({"n": i}), key=b"curve-%d" % (i % 7))
        for ws in (ws1, ws2):
            got = {(await recv_type(ws, "data", within=15))["data"]["n"] for _ in range(count)}
            assert got == set(range(count))
