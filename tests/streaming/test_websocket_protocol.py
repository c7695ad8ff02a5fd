"""Seed 003's WebSocket protocol against a running server (in-process bus, real auth app)."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from access_streaming.testing import (
    FakeEntitlements,
    recv_json,
    recv_type,
    send_json,
    ws_connect,
)
from access_streaming.topics import TopicRegistry

from .conftest import Mint, StartStreaming, Subscribed


async def test_connect_subscribe_filter_ping_unsubscribe(
    start_streaming: StartStreaming, registry: TopicRegistry, entitlements: FakeEntitlements,
    mint: Mint,
) -> None:  # fmt: skip
    prices, _ = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with start_streaming(registry) as server, await ws_connect(server, token) as ws:
        hello = await recv_json(ws)
        assert hello["type"] == "connection_established"
        assert hello["user_id"] == "alice"
        assert hello["tenant_id"] == "tenant-a"
        assert hello["connection_id"].startswith("conn-")
        await send_json(ws, {"action": "subscribe", "data": {
            "topics": [prices], "filters": {"commodity": "oil", "meta.venue": "ICE"}}})  # fmt: skip
        ack = await recv_type(ws, "subscribed")
        assert ack["topics"] == [prices]
        assert ack["filters"] == {"commodity": "oil", "meta.venue": "ICE"}
        bus = server.runtime.buses["nats"]
        skipped = {"commodity": "gas", "meta": {"venue": "ICE"}}
        wanted = {"instrument_id": "BRENT", "commodity": "oil", "price": 75.5,
                  "meta": {"venue": "ICE"}}  # fmt: skip
        await bus.publish(prices, b'{"commodity": "oil", "meta": {"venue": "NYMEX"}}')
        await bus.publish(prices, orjson.dumps(skipped))
        offset = await bus.publish(prices, orjson.dumps(wanted))
        data = await recv_type(ws, "data")
        assert data["topic"] == prices
        assert data["data"] == wanted
        assert data["offset"] == offset
        assert data["partition"] == 0
        assert isinstance(data["timestamp"], int) and data["timestamp"] > 1_700_000_000_000
        await send_json(ws, {"action": "ping", "data": {}})
        assert (await recv_json(ws))["type"] == "pong"
        await send_json(ws, {"action": "unsubscribe", "data": {"topics": [prices]}})
        assert (await recv_type(ws, "unsubscribed"))["topics"] == [prices]
        await bus.publish(prices, orjson.dumps(wanted))
        await send_json(ws, {"action": "ping"})
        assert (await recv_json(ws))["type"] == "pong"  # nothing arrived in between
        stats = server.runtime.hub.topics()
        assert stats == {}


async def test_default_subscription_and_denied_topic(
    start_streaming: StartStreaming, registry: TopicRegistry, entitlements: FakeEntitlements,
    mint: Mint,
) -> None:  # fmt: skip
    prices, curves = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with start_streaming(registry) as server, await ws_connect(server, token) as ws:
        await recv_json(ws)
        await send_json(ws, {"action": "subscribe", "data": {}})
        assert (await recv_type(ws, "subscribed"))["topics"] == [prices]
        await send_json(ws, {"action": "subscribe", "data": {"topics": [prices, curves]}})
        assert (await recv_type(ws, "subscribed"))["topics"] == [prices]
        error = await recv_type(ws, "error")
        assert error["error"] == "SUBSCRIPTION_DENIED"
        assert error["message"] == f"Insufficient permissions for topic {curves}"
        assert error["details"] == {"topic": curves, "required_role": "analyst"}
        await server.runtime.buses["nats"].publish(curves, b'{"x": 1}')
        await server.runtime.buses["nats"].publish(prices, b'{"x": 2}')
        assert (await recv_type(ws, "data"))["data"] == {"x": 2}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "MESSAGE_MALFORMED"),
        ("[1, 2]", "MESSAGE_MALFORMED"),
        ('{"data": {}}', "MESSAGE_MALFORMED"),
        ('{"action": 5}', "MESSAGE_MALFORMED"),
        ('{"action": "subscribe", "data": []}', "MESSAGE_MALFORMED"),
        ('{"action": "subscribe", "data": {"topics": "x y"}}', "TOPIC_INVALID"),
        ('{"action": "subscribe", "data": {"topics": [7]}}', "TOPIC_INVALID"),
        ('{"action": "subscribe", "data": {"topics": {"a": 1}}}', "MESSAGE_MALFORMED"),
        ('{"action": "subscribe", "data": {"topics": ["no.such.topic"]}}', "TOPIC_UNKNOWN"),
        ('{"action": "subscribe", "data": {"filters": [1]}}', "FILTER_INVALID"),
        ('{"action": "subscribe", "data": {"filters": {"a": [1]}}}', "FILTER_INVALID"),
        ('{"action": "subscribe", "data": {"filters": {"a..b": 1}}}', "FILTER_INVALID"),
        ('{"action": "dance", "data": {}}', "ACTION_UNKNOWN"),
        ("x" * 5000, "MESSAGE_TOO_LARGE"),
        (b"\x00\x01binary", "MESSAGE_MALFORMED"),
    ],
)
async def test_every_malformed_input_gets_an_error_and_the_connection_stays(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint,
    frame: str | bytes, code: str,
) -> None:  # fmt: skip
    token = await mint("alice", "tenant-a")
    async with start_streaming(registry) as server, await ws_connect(server, token) as ws:
        await recv_json(ws)
        await ws.send(frame)
        error = await recv_json(ws)
        assert error["type"] == "error"
        assert error["error"] == code
        assert set(error) == {"type", "error", "message", "details"}
        await send_json(ws, {"action": "ping"})
        assert (await recv_json(ws))["type"] == "pong"


async def test_too_frequent_messages_then_abuse_closes_with_1008(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    token = await mint("alice", "tenant-a")
    async with start_streaming(
        registry, client_messages_per_second=3, max_client_errors=6
    ) as server, await ws_connect(server, token) as ws:  # fmt: skip
        await recv_json(ws)
        for _ in range(8):
            await send_json(ws, {"action": "ping"})
        answers = [await recv_json(ws) for _ in range(8)]
        # Fixed one-second windows: at most 3 per window, and 8 pings span at most two.
        assert [a["type"] for a in answers[:3]] == ["pong"] * 3
        assert sum(a["type"] == "pong" for a in answers) <= 6
        limited = [a for a in answers if a["type"] == "error"]
        assert limited and all(a["error"] == "MESSAGE_RATE_LIMITED" for a in limited)
        for _ in range(10):
            with contextlib.suppress(ConnectionClosed):
                await ws.send("garbage")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await recv_json(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
        assert "too many invalid messages" in closed.value.rcvd.reason


async def test_refusals_before_the_upgrade(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    async with start_streaming(registry) as server:
        with pytest.raises(InvalidStatus) as missing:
            await ws_connect(server, None)
        assert missing.value.response.status_code == 401
        assert b'"TOKEN_MISSING"' in missing.value.response.body
        with pytest.raises(InvalidStatus) as bad:
            await ws_connect(server, "not-a-jwt")
        assert bad.value.response.status_code == 401
        assert b'"TOKEN_MALFORMED"' in bad.value.response.body
        assert b'"trace_id"' in bad.value.response.body


async def test_browser_style_client_with_origin(
    start_streaming: StartStreaming, registry: TopicRegistry, subscribed: Subscribed
) -> None:
    prices, _ = registry.names()
    async with start_streaming(registry) as server, subscribed(
        server, prices, origin="https://screens.example.com",
        user_agent_header="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    ) as ws:  # fmt: skip
        await server.runtime.buses["nats"].publish(prices, b'{"price": 1}')
        assert (await recv_type(ws, "data"))["data"] == {"price": 1}


async def test_token_expiry_closes_with_4001(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    token = await mint("alice", "tenant-a", ttl=2)
    async with start_streaming(registry) as server, await ws_connect(server, token) as ws:
        await recv_json(ws)
        # Less than ACCESS_TOKEN_EXPIRING_SECONDS is left: the warning comes at once.
        warning = await recv_json(ws, within=2)
        assert warning["type"] == "token_expiring"
        assert isinstance(warning["expires_at"], int)
        with pytest.raises(ConnectionClosed) as closed:
            await recv_json(ws, within=6)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4001
        assert closed.value.rcvd.reason == "token expired"
        await asyncio.sleep(0.1)
        assert server.runtime.active["websocket"] == 0
