"""Health names every dependency, /stats has seed 003's shape, metrics exist, dev is local."""

from __future__ import annotations

import httpx
import orjson
import pytest

from access_streaming.settings import DEFAULT_TOPICS_FILE
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


@pytest.mark.kafka
@pytest.mark.nats
async def test_health_stats_and_metrics(
    start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    registry = registry_for(prices="nats")
    prices = registry.names()[0]
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with (
        start_streaming(registry, nats=True, kafka=True) as server,
        httpx.AsyncClient(base_url=server.http_url) as client,
        await ws_connect(server, token) as ws,
    ):
        health = (await client.get("/health")).json()
        assert health["service"] == "streaming"
        assert {"kafka", "nats", "auth", "entitlements"} <= set(health["dependencies"])
        assert health["dependencies"]["kafka"] == "ok"
        assert health["dependencies"]["nats"] == "ok"
        assert health["dependencies"]["auth"] == "ok"
        await recv_json(ws)
        await send_json(ws, {"action": "subscribe", "data": {"topics": [prices]}})
        await recv_type(ws, "subscribed")
        await server.runtime.buses["nats"].publish(prices, b'{"p": 1}')
        await recv_type(ws, "data")
        stats = (await client.get("/stats")).json()
        assert set(stats) == {
            "websocket", "sse", "subscriptions", "kafka", "nats", "delivery", "gc"
        }  # fmt: skip
        assert stats["gc"]["max_pause_ms"] >= 0
        assert set(stats["websocket"]) == {
            "total_connections", "active_connections", "total_messages", "messages_per_second"
        }  # fmt: skip
        assert stats["websocket"]["total_connections"] == 1
        assert stats["subscriptions"] == {
            "total_topics": 1, "active_subscriptions": 1, "topics": {prices: 1}
        }  # fmt: skip
        assert stats["nats"] == {"consumers": 1, "topics": [prices], "messages_consumed": 1}
        assert stats["kafka"] == {"consumers": 0, "topics": [], "messages_consumed": 0}
        metrics = (await client.get("/metrics")).text
        for name in (
            "websocket_connections_total 1.0",
            "sse_connections_total",
            'messages_sent_total{protocol="websocket"}',
            'messages_received_total{action="subscribe",protocol="websocket"} 1.0',
            f'subscriptions_total{{topic="{prices}"}} 1.0',
            "kafka_messages_consumed_total",
            f'nats_messages_consumed_total{{topic="{prices}"}} 1.0',
            'streaming_active_connections{protocol="websocket"} 1.0',
            "streaming_send_errors",
            f'streaming_delivery_lag_seconds_count{{topic="{prices}"}} 1.0',
        ):
            assert name in metrics, name


async def test_publish_endpoint_only_in_local(
    start_streaming: StartStreaming, registry: TopicRegistry, entitlements: FakeEntitlements,
    mint: Mint,
) -> None:  # fmt: skip
    prices, _ = registry.names()
    async with start_streaming(registry) as server, httpx.AsyncClient(
        base_url=server.http_url
    ) as client:  # fmt: skip
        answer = await client.post("/dev/publish", json={"topic": prices, "data": {}})
        assert answer.status_code == 404
        assert "/dev/publish" not in (await client.get("/openapi.json")).text
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with (
        start_streaming(registry, env="local", dev_feed=False) as server,
        httpx.AsyncClient(base_url=server.http_url) as client,
        client.stream("GET", "/sse/stream", params={"token": token}) as stream,
    ):
        events = read_sse(stream.aiter_lines())
        hello = await anext(events)
        form = {"connection_id": hello.data["connection_id"], "topic": prices}
        subscribed = await client.post("/sse/subscribe", data=form, params={"token": token})
        assert subscribed.status_code == 200
        data = {"nested": {"a": [1, 2.5, None, True]}, "text": "line\nbreak é"}
        answer = await client.post("/dev/publish", json={"topic": prices, "data": data})
        assert answer.status_code == 200
        assert answer.json()["published"] == 1
        event = await anext(events)
        assert event.event == "data"
        assert event.data["data"] == data
        unknown = await client.post("/dev/publish", json=[{"topic": "no.such", "data": 1}])
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "TOPIC_UNKNOWN"
        for body, status, code in [
            (b"{", 422, "VALIDATION_FAILED"),
            (b'[{"topic": "x.y"}]', 422, "VALIDATION_FAILED"),
            (b'{"topic": 5, "data": 1}', 400, "TOPIC_INVALID"),
            (b'[{"topic": "' + prices.encode() + b'", "data": 1}, {"topic": "no.such", '
             b'"data": 1}]', 404, "TOPIC_UNKNOWN"),
        ]:  # fmt: skip
            bad = await client.post("/dev/publish", content=body)
            assert (bad.status_code, bad.json()["code"]) == (status, code), body
        left = await client.post("/sse/unsubscribe", data=form, params={"token": token})
        assert left.json() == {
            "success": True,
            "topics": [prices],
            "connection_id": form["connection_id"],
        }
        garbage = await client.post(
            "/sse/subscribe", content=b"{", headers={"content-type": "application/json",
                                                    "authorization": f"Bearer {token}"},
        )  # fmt: skip
        assert garbage.status_code == 400
        assert orjson.loads(garbage.content)["code"] == "MESSAGE_MALFORMED"


async def test_dev_feed_shows_live_prices_at_once(
    start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    registry = TopicRegistry.load(DEFAULT_TOPICS_FILE)
    prices = "served.market.latest_prices.v1"
    entitlements.allow("tenant-a", "trader", prices)
    token = await mint("alice", "tenant-a", ("trader",))
    async with (
        start_streaming(registry, env="local", dev_feed_interval_seconds=0.05) as server,
        await ws_connect(server, token) as ws,
    ):
        await recv_json(ws)
        await send_json(ws, {"action": "subscribe", "data": {"filters": {"commodity": "oil"}}})
        assert (await recv_type(ws, "subscribed"))["topics"] == [prices]
        seen = [(await recv_type(ws, "data"))["data"] for _ in range(5)]
        assert all(item["commodity"] == "oil" for item in seen)
        assert all(item["bid"] < item["price"] < item["ask"] for item in seen)
        assert server.runtime.hub.topics() == {prices: 1}
