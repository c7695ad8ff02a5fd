"""A bus outage under live subscribers: health degrades, the same connections get data after.

Each test runs a throwaway NATS or Kafka server of its own, so it can kill and restart it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from access_common.backends import Bus
from access_common.backends.kafka_bus import KafkaBus
from access_common.backends.nats_bus import NatsBus
from access_common.errors import AccessError
from access_common.testing import kafka_server, nats_server
from access_streaming.testing import (
    FakeEntitlements,
    recv_json,
    recv_type,
    registry_for,
    send_json,
    ws_connect,
)

from .conftest import Mint, StartStreaming

pytestmark = pytest.mark.timeout(180)


async def _dependency(client: httpx.AsyncClient, name: str, want: str, within: float) -> None:
    async with asyncio.timeout(within):
        while (await client.get("/health")).json()["dependencies"].get(name) != want:
            await asyncio.sleep(0.2)


@pytest.mark.parametrize(
    "bus",
    [pytest.param("nats", marks=pytest.mark.nats), pytest.param("kafka", marks=pytest.mark.kafka)],
)
async def _publish_when_back(bus: Bus, topic: str, value: bytes) -> None:
    async with asyncio.timeout(40):
        while True:
            try:
                await bus.publish(topic, value)
                return
            except AccessError:
                await asyncio.sleep(0.5)


@pytest.mark.parametrize(
    "bus",
    [pytest.param("nats", marks=pytest.mark.nats), pytest.param("kafka", marks=pytest.mark.kafka)],
)
async def test_subscribers_recover_without_reconnecting(
    bus: str,
    start_streaming: StartStreaming,
    entitlements: FakeEntitlements,
    mint: Mint,
    tmp_path: Path,
) -> None:
    registry = registry_for(signals=bus)
    topic = registry.names()[0]
    entitlements.allow("tenant-a", "analyst", topic)
    token = await mint("alice", "tenant-a")
    if bus == "nats":
        server = nats_server(tmp_path / "nats")
        url = f"nats://127.0.0.1:{server.port}"
        publisher: Bus = NatsBus(url, timeout=2.0)
        options: dict[str, object] = {"nats_url": url}
    else:
        server = kafka_server(tmp_path / "kafka")
        url = f"127.0.0.1:{server.port}"
        publisher = KafkaBus(url, timeout=5.0)
        options = {"kafka_url": url}
    await asyncio.to_thread(server.start, 60)
    try:
        async with (
            start_streaming(registry, health_check_timeout_seconds=1.5, **options) as streaming,
            httpx.AsyncClient(base_url=streaming.http_url) as client,
            await ws_connect(streaming, token) as ws,
        ):
            await recv_json(ws)
            await send_json(ws, {"action": "subscribe", "data": {"topics": [topic]}})
            await recv_type(ws, "subscribed")
            await publisher.publish(topic, b'{"n": 1}')
            assert (await recv_type(ws, "data"))["data"] == {"n": 1}
            server.stop()
            await _dependency(client, bus, "down", within=15)
            assert (await client.get("/health/ready")).status_code == 503
            await asyncio.to_thread(server.start, 60)
            await _dependency(client, bus, "ok", within=40)
            await _publish_when_back(publisher, topic, b'{"n": 2}')
            assert (await recv_type(ws, "data", within=40))["data"] == {"n": 2}
    finally:
        await publisher.close()
        await asyncio.to_thread(server.close)
