"""Seed 003's limits, each refusal explicit; dead peers reaped; graceful shutdown (1012)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from access_common.backends.redis_kv import RedisKeyValue
from access_common.testing import backend_url
from access_streaming.connections import ConnectionSlots, Owner
from access_streaming.errors import ConnectionLimitExceeded
from access_streaming.testing import (
    FakeEntitlements,
    StreamingServer,
    read_sse,
    recv_json,
    recv_type,
    send_json,
    ws_connect,
)
from access_streaming.topics import TopicRegistry

from .conftest import Mint, StartStreaming

pytestmark = pytest.mark.timeout(90)


async def refused(server: StreamingServer, token: str | None) -> tuple[int, dict[str, object]]:
    with pytest.raises(InvalidStatus) as info:
        await ws_connect(server, token)
    response = info.value.response
    body = orjson.loads(response.body)
    assert set(body) == {"trace_id", "code", "message", "details"}
    return response.status_code, body


async def test_per_user_and_per_tenant_limits(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    alice = await mint("alice", "tenant-a")
    bob = await mint("bob", "tenant-a")
    carol = await mint("carol", "tenant-a")
    async with start_streaming(
        registry, max_connections_per_user=2, max_connections_per_tenant=3
    ) as server:  # fmt: skip
        first = await ws_connect(server, alice)
        second = await ws_connect(server, alice)
        status, body = await refused(server, alice)
        assert (status, body["code"]) == (429, "CONNECTION_LIMIT_EXCEEDED")
        assert body["details"] == {"scope": "user", "limit": 2}
        third = await ws_connect(server, bob)
        status, body = await refused(server, carol)
        assert (status, body["code"]) == (429, "CONNECTION_LIMIT_EXCEEDED")
        assert body["details"] == {"scope": "tenant", "limit": 3}
        await first.close()
        await asyncio.sleep(0.2)
        fourth = await ws_connect(server, carol)  # the slot came back
        for ws in (second, third, fourth):
            await ws.close()


async def test_connect_rate_per_ip_and_capacity(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    token = await mint("alice", "tenant-a")
    async with start_streaming(registry, connects_per_minute_per_ip=3) as server:
        sockets, refusals = [], []
        for _ in range(7):  # fixed one-minute windows: 7 attempts span at most two
            try:
                sockets.append(await ws_connect(server, token))
            except InvalidStatus as exc:
                refusals.append(exc.response)
        assert 3 <= len(sockets) <= 6
        assert refusals
        for response in refusals:
            assert response.status_code == 429
            assert b"CONNECT_RATE_LIMITED" in response.body
            assert int(response.headers["Retry-After"]) >= 1
        for ws in sockets:
            await ws.close()
    async with start_streaming(registry, max_ws_connections=2, max_sse_connections=1) as server:
        sockets = [await ws_connect(server, token) for _ in range(2)]
        status, body = await refused(server, token)
        assert (status, body["code"]) == (503, "SERVER_AT_CAPACITY")
        async with (
            httpx.AsyncClient(base_url=server.http_url) as client,
            client.stream("GET", "/sse/stream", params={"token": token}) as first,
        ):
            assert first.status_code == 200
            second = await client.get("/sse/stream", params={"token": token})
            assert second.status_code == 503
            assert second.json()["code"] == "SERVER_AT_CAPACITY"
            assert "retry-after" in second.headers
        for ws in sockets:
            await ws.close()


async def test_auth_and_entitlements_down_fail_closed(
    start_streaming: StartStreaming,
    registry: TopicRegistry,
    entitlements: FakeEntitlements,
    mint: Mint,
) -> None:
    prices, _ = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with start_streaming(registry, auth_service_url="http://nowhere") as server:
        status, body = await refused(server, token)
        assert (status, body["code"]) == (503, "DEPENDENCY_UNAVAILABLE")
    async with start_streaming(registry) as server, await ws_connect(server, token) as ws:
        await recv_json(ws)
        entitlements.down = True
        await send_json(ws, {"action": "subscribe", "data": {"topics": [prices]}})
        error = await recv_type(ws, "error")
        assert error["error"] == "ENTITLEMENTS_UNAVAILABLE"
        assert server.runtime.hub.topics() == {}
        entitlements.down = False
        await send_json(ws, {"action": "subscribe", "data": {"topics": [prices]}})
        assert (await recv_type(ws, "subscribed"))["topics"] == [prices]


def _silent_websocket(port: int, token: str) -> socket.socket:
    """A peer that completes the handshake and then never reads or answers a ping."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/stream?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    return sock


async def test_dead_peer_is_reaped_after_the_heartbeat_timeout(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    token = await mint("alice", "tenant-a")
    async with start_streaming(registry, heartbeat_timeout=1.0) as server:
        sock = await asyncio.to_thread(_silent_websocket, server.port, token)
        try:
            await asyncio.sleep(0.2)
            assert server.runtime.active["websocket"] == 1
            async with asyncio.timeout(5):
                while server.runtime.active["websocket"]:
                    await asyncio.sleep(0.1)
        finally:
            sock.close()


async def test_graceful_shutdown_tells_clients_to_reconnect(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    token = await mint("alice", "tenant-a")
    async with (
        start_streaming(registry) as server,
        await ws_connect(server, token) as ws,
        httpx.AsyncClient(base_url=server.http_url) as client,
        client.stream("GET", "/sse/stream", params={"token": token}) as stream,
    ):
        await recv_json(ws)
        events = read_sse(stream.aiter_lines())
        assert (await anext(events)).event == "connection_established"
        server.runtime.drain()
        with pytest.raises(ConnectionClosed) as closed:
            await recv_json(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1012
        goodbye = await anext(events)
        assert goodbye.event == "close"
        assert goodbye.data == {"code": 1012, "reason": "service restart: reconnect"}
        status, body = await refused(server, token)
        assert (status, body["code"]) == (503, "SERVER_AT_CAPACITY")


@pytest.mark.redis
async def test_slots_are_cluster_wide_and_expire_with_a_crashed_instance() -> None:
    owner = Owner(f"user-{os.urandom(4).hex()}", f"tenant-{os.urandom(4).hex()}", (), 0.0)
    first_kv = RedisKeyValue(backend_url("redis"))
    second_kv = RedisKeyValue(backend_url("redis"))
    first = ConnectionSlots(first_kv, per_user=2, per_tenant=10, instance="pod-1", ttl=1.0)
    second = ConnectionSlots(second_kv, per_user=2, per_tenant=10, instance="pod-2", ttl=1.0)
    try:
        second.start()
        kept = await second.acquire(owner, "c0")
        await first.acquire(owner, "c1")  # pod-1 "crashes": never refreshed, never released
        with pytest.raises(ConnectionLimitExceeded):
            await second.acquire(owner, "c2")
        await asyncio.sleep(1.5)  # past the TTL: pod-1's slot expired, pod-2's was refreshed
        await second.acquire(owner, "c3")
        with pytest.raises(ConnectionLimitExceeded):
            await second.acquire(owner, "c4")
        await second.release(kept)
        await second.acquire(owner, "c5")
    finally:
        await second.close()
        await first_kv.close()
        await second_kv.close()


@pytest.mark.redis
async def test_two_instances_share_the_user_limit_through_redis(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    token = await mint(f"user-{os.urandom(4).hex()}", f"tenant-{os.urandom(4).hex()}")
    async with (
        start_streaming(registry, redis=True, max_connections_per_user=1) as first,
        start_streaming(registry, redis=True, max_connections_per_user=1) as second,
        await ws_connect(first, token) as held,
    ):
        await recv_json(held)
        status, body = await refused(second, token)
        assert (status, body["code"]) == (429, "CONNECTION_LIMIT_EXCEEDED")
        await held.close()
        await asyncio.sleep(0.3)
        async with await ws_connect(second, token) as ws:
            assert (await recv_json(ws))["type"] == "connection_established"
