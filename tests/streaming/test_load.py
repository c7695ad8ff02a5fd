"""Load: 1,000 WebSocket connections held on real NATS, fed through the local publish endpoint.

Every connection receives every message (nothing lost, nothing duplicated), before and
after an idle stretch long enough for several protocol ping rounds on all of them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

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

CONNECTIONS = 1000
MESSAGES = 20


async def _open(server: Any, token: str, topic: str) -> Any:
    ws = await ws_connect(server, token, open_timeout=30)
    await recv_json(ws, within=30)
    await send_json(ws, {"action": "subscribe", "data": {"topics": [topic]}})
    await recv_type(ws, "subscribed", within=30)
    return ws


async def _collect(ws: Any, count: int) -> list[int]:
    return [(await recv_type(ws, "data", within=30))["data"]["seq"] for _ in range(count)]


async def test_thousand_connections_held_with_no_loss(
    start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    registry = registry_for(ticks="nats")
    topic = registry.names()[0]
    entitlements.allow("tenant-load", "analyst", topic)
    tokens = [await mint(f"trader-{i}", "tenant-load") for i in range(10)]
    async with start_streaming(
        registry, nats=True, env="local", dev_feed=False, heartbeat_timeout=2.0,
        max_ws_connections=CONNECTIONS,
    ) as server:  # fmt: skip
        started = time.monotonic()
        sockets: list[Any] = []
        for start in range(0, CONNECTIONS, 100):
            batch = [_open(server, tokens[i % 10], topic) for i in range(start, start + 100)]
            sockets.extend(await asyncio.gather(*batch))
        opened = time.monotonic() - started
        assert server.runtime.active["websocket"] == CONNECTIONS
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
            for round_ in range(2):
                first = round_ * MESSAGES
                items = [{"topic": topic, "data": {"seq": first + i, "px": 70.5 + i}}
                         for i in range(MESSAGES)]  # fmt: skip
                answer = await client.post("/dev/publish", json=items)
                assert answer.status_code == 200, answer.text
                assert answer.json()["published"] == MESSAGES
                received = await asyncio.gather(*(_collect(ws, MESSAGES) for ws in sockets))
                expected = list(range(first, first + MESSAGES))
                assert all(sorted(got) == expected for got in received)
                if round_ == 0:
                    await asyncio.sleep(5)  # held idle: pings every second on all of them
                    assert server.runtime.active["websocket"] == CONNECTIONS
            stats = (await client.get("/stats")).json()
        assert stats["websocket"]["active_connections"] == CONNECTIONS
        assert stats["websocket"]["total_messages"] >= CONNECTIONS * (2 * MESSAGES + 1)
        assert stats["subscriptions"]["topics"] == {topic: CONNECTIONS}
        await asyncio.gather(*(ws.close() for ws in sockets))
        print(f"opened {CONNECTIONS} connections in {opened:.1f}s")
