"""The fast WebSocket path (ws/socket.py) over real sockets: what it adds beyond seed 003.

Several frames in one write, back-pressure from the transport feeding the slow-consumer
steps, uvicorn's own shutdown closing with 1012, unknown paths answered in the error
model, oversized messages closed with 1009, mass disconnects logged as nothing worse
than INFO.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
import os
import socket
import time
import weakref

import orjson
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from access_common.backends.bus import Message
from access_streaming.testing import (
    FakeEntitlements,
    recv_json,
    recv_type,
    send_json,
    ws_connect,
)
from access_streaming.topics import TopicRegistry

from .conftest import Mint, StartStreaming, Subscribed


def _masked_text(payload: bytes) -> bytes:
    """A client (masked) text frame, as RFC 6455 wants from clients."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


def _raw_websocket(port: int, token: str, *, path: str = "/ws/stream") -> socket.socket:
    """A handshake by hand, with a tiny receive buffer so the server's buffers fill fast."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path}?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    return sock


def _message(topic: str, offset: int, size: int = 4000) -> Message:
    value = orjson.dumps({"n": offset, "pad": "x" * size})
    return Message(topic, value, offset=offset, partition=0, timestamp_ms=int(time.time() * 1000))


async def test_several_frames_per_write_and_order_kept(
    start_streaming: StartStreaming, registry: TopicRegistry, subscribed: Subscribed
) -> None:
    prices, _ = registry.names()
    async with start_streaming(registry) as server, subscribed(server, prices) as ws:
        hub = server.runtime.hub
        # 50 messages in one loop turn: one flush, one write for all of them.
        for offset in range(50):
            hub.dispatch(_message(prices, offset, size=10))
        got = [(await recv_type(ws, "data"))["data"]["n"] for _ in range(50)]
        assert got == list(range(50))
        assert server.runtime.sent["websocket"] >= 52  # greeting, ack, 50 data


async def test_a_peer_that_stops_reading_gets_gap_then_4008(
    start_streaming: StartStreaming, registry: TopicRegistry, entitlements: FakeEntitlements,
    mint: Mint,
) -> None:  # fmt: skip
    prices, _ = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with start_streaming(registry, outgoing_queue_size=64) as server:
        sock = await asyncio.to_thread(_raw_websocket, server.port, token)
        try:
            assert (await asyncio.to_thread(sock.recv, 4096)).startswith(b"HTTP/1.1 101")
            subscribe = orjson.dumps({"action": "subscribe", "data": {"topics": [prices]}})
            await asyncio.to_thread(sock.sendall, _masked_text(subscribe))
            runtime = server.runtime
            async with asyncio.timeout(5):
                while not runtime.hub.has_subscribers(prices):
                    await asyncio.sleep(0.01)
            # The peer never reads: the transport pauses, the queue fills, the steps run.
            offset = 0
            async with asyncio.timeout(20):
                while runtime.active["websocket"]:
                    for _ in range(50):
                        runtime.hub.dispatch(_message(prices, offset))
                        offset += 1
                    await asyncio.sleep(0.005)
            steps = runtime.overflow.by_topic[prices]
            assert steps["dropped"] >= 64
            assert steps["disconnected"] == 1
        finally:
            sock.close()


async def test_uvicorn_shutdown_closes_websockets_with_1012(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    token = await mint("alice", "tenant-a")
    server_cm = start_streaming(registry)
    server = await server_cm.__aenter__()
    ws = await ws_connect(server, token)
    try:
        await recv_json(ws)
        # Leaving the server's block asks uvicorn to exit: it calls shutdown() on the socket
        # before the app's lifespan ends.
        stopping = asyncio.create_task(server_cm.__aexit__(None, None, None))
        with pytest.raises(ConnectionClosed) as closed:
            await recv_json(ws, within=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1012
        await asyncio.wait_for(stopping, 30)
    finally:
        await ws.close()


async def test_unknown_path_is_a_404_in_the_error_model(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    token = await mint("alice", "tenant-a")
    async with start_streaming(registry) as server:
        from websockets.asyncio.client import connect  # noqa: PLC0415 - client side only

        url = f"ws://127.0.0.1:{server.port}/ws/other?token={token}"
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, proxy=None)
        response = refused.value.response
        assert response.status_code == 404
        body = orjson.loads(response.body or b"{}")
        assert body["code"] == "NOT_FOUND"
        assert set(body) == {"trace_id", "code", "message", "details"}
        assert token not in (response.body or b"").decode()


async def test_an_oversized_message_closes_with_1009(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    token = await mint("alice", "tenant-a")
    async with (
        start_streaming(registry, max_client_message_bytes=256) as server,
        await ws_connect(server, token, max_size=None) as ws,
    ):
        await recv_json(ws)
        await ws.send("x" * 70_000)  # above 16 x 256 and the 64 KiB floor
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await recv_json(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009


async def test_mass_disconnects_are_not_errors(
    start_streaming: StartStreaming, registry: TopicRegistry, entitlements: FakeEntitlements,
    mint: Mint, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    prices, _ = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    caplog.set_level(logging.INFO)
    async with start_streaming(registry) as server:
        runtime = server.runtime
        clients = [await ws_connect(server, token) for _ in range(30)]
        for ws in clients:
            await send_json(ws, {"action": "subscribe", "data": {"topics": [prices]}})
            await recv_type(ws, "subscribed")
        for offset in range(20):
            runtime.hub.dispatch(_message(prices, offset, size=500))
        for ws in clients:
            ws.transport.abort()  # gone mid-stream, no close frame
        async with asyncio.timeout(10):
            while runtime.active["websocket"]:
                await asyncio.sleep(0.05)
        assert runtime.hub.topics() == {}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


async def test_a_closed_connection_is_freed_without_the_collector(
    start_streaming: StartStreaming, registry: TopicRegistry, subscribed: Subscribed
) -> None:
    # Full collections freeze what survives (gcstats.py): a closed connection must then be
    # freed by reference counts alone, so nothing it held may form a cycle.
    prices, _ = registry.names()
    async with start_streaming(registry) as server:
        runtime = server.runtime
        gc.disable()
        try:
            async with subscribed(server, prices) as ws:
                await send_json(ws, {"action": "ping"})
                await recv_type(ws, "pong")
                (connection,) = runtime.connections.values()
                gone = weakref.ref(connection)
                del connection
            async with asyncio.timeout(5):
                while runtime.active["websocket"]:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)
            assert gone() is None
        finally:
            gc.enable()


async def test_a_client_that_answers_pings_stays_connected(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    # Pings every 0.5 s, a pong due within 0.5 s: a silent but live client is kept.
    token = await mint("alice", "tenant-a")
    async with (
        start_streaming(registry, heartbeat_timeout=1.0) as server,
        await ws_connect(server, token, ping_interval=None) as ws,
    ):
        await recv_type(ws, "connection_established")
        await asyncio.sleep(2.5)
        await send_json(ws, {"action": "ping"})
        assert (await recv_type(ws, "pong"))["type"] == "pong"
        assert server.runtime.active["websocket"] == 1
