"""A NATS outage under live subscribers: health degrades, the same connections get data after."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from access_common.backends.nats_bus import NatsBus
from access_common.testing import nats_server
from access_streaming.testing import (
    FakeEntitlements,
    recv_json,
    recv_type,
    registry_for,
    send_json,
    ws_connect,
)

from .conftest import Mint, StartStreaming

pytestmark = [pytest.mark.nats, pytest.mark.timeout(120)]


async def _dependency(client: httpx.AsyncClient, name: str, want: str, within: float) -> None:
    async with asyncio.timeout(within):
        while (await client.get("/health")).json()["dependencies"].get(name) != want:
            await asyncio.sleep(0.2)


async def test_subscribers_recover_without_reconnecting(
    start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint, tmp_path: Path
) -> None:
    registry = registry_for(signals="nats")
    topic = registry.names()[0]
    entitlements.allow("tenant-a", "analyst", topic)
    token = await mint("alice", "tenant-a")
    server = nats_server(tmp_path / "nats")
    await asyncio.to_thread(server.start)
    url = f"nats://127.0.0.1:{server.port}"
    publisher = NatsBus(url, timeout=2.0)
    try:
        async with (
            start_streaming(registry, nats_url=url, health_check_timeout_seconds=1.5) as streaming,
            httpx.AsyncClient(base_url=streaming.http_url) as client,
            await ws_connect(streaming, token) as ws,
        ):
            await recv_json(ws)
            await send_json(ws, {"action": "subscribe", "data": {"topics": [topic]}})
            await recv_type(ws, "subscribed")
            await publisher.publish(topic, b'{"n": 1}')
            assert (await recv_type(ws, "data"))["data"] == {"n": 1}
            server.stop()
            await _dependency(client, "nats", "down", within=10)
            assert (await client.get("/health/ready")).status_code == 503
            await asyncio.to_thread(server.start)
            await _dependency(client, "nats", "ok", within=20)
            await publisher.publish(topic, b'{"n": 2}')
            assert (await recv_type(ws, "data", within=20))["data"] == {"n": 2}
    finally:
        await publisher.close()
        await asyncio.to_thread(server.close)
