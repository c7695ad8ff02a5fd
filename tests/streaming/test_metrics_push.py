"""Streaming's messages sent reach the metrics service through the pusher."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from access_common.clients import MetricsClient
from access_common.http import HttpClient
from access_streaming.testing import FakeEntitlements, recv_json, recv_type, send_json, ws_connect
from access_streaming.topics import TopicRegistry

from .conftest import Mint, StartStreaming


async def test_messages_sent_are_pushed_by_protocol(
    start_streaming: StartStreaming, registry: TopicRegistry, entitlements: FakeEntitlements,
    mint: Mint,
) -> None:  # fmt: skip
    pushed: list[dict[str, Any]] = []

    async def metrics(request: httpx.Request) -> httpx.Response:
        samples = orjson.loads(request.content)["samples"]
        pushed.extend(samples)
        return httpx.Response(200, json={"accepted": len(samples), "refused": 0})

    prices, _ = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with start_streaming(registry) as server, await ws_connect(server, token) as ws:
        pusher = server.runtime.pusher
        assert pusher is not None
        pusher.client = MetricsClient(
            HttpClient(transport=httpx.MockTransport(metrics)), "http://m"
        )
        await recv_json(ws)
        await send_json(ws, {"action": "subscribe", "data": {"topics": [prices]}})
        await recv_type(ws, "subscribed")
        await server.runtime.buses["nats"].publish(prices, b'{"price": 1}')
        await recv_type(ws, "data")
        await pusher.flush()
    sent = sum(
        s["value"]
        for s in pushed
        if s["name"] == "streaming_served_messages_sent_total"
        and s["labels"] == {"protocol": "websocket"}
    )
    assert sent >= 3  # connection_established, subscribed, data
    assert all(s["source"] == "streaming" for s in pushed)
