from __future__ import annotations

import asyncio
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from access_common.backends.memory_bus import MemoryBus
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.http import HttpClient
from access_streaming.connections import CloseCode, Connection, Owner
from access_streaming.fanout import KEEPALIVE, control
from access_streaming.metrics import StreamingMetrics
from access_streaming.runtime import StreamingRuntime
from access_streaming.settings import DEFAULT_TOPICS_FILE, StreamingSettings
from access_streaming.topics import TopicRegistry


def _runtime(tmp_path: Path) -> StreamingRuntime:
    settings = StreamingSettings(
        env="test", state_dir=tmp_path, heartbeat_timeout=5, sse_keepalive_seconds=10
    )
    return StreamingRuntime(
        settings,
        registry=TopicRegistry.load(DEFAULT_TOPICS_FILE),
        http=HttpClient(),
        kv=MemoryKeyValue(),
        buses={"nats": MemoryBus()},
        metrics=StreamingMetrics(CollectorRegistry()),
    )


async def test_sweep_stops_stalled_writers_and_keeps_idle_sse_alive(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    owner = Owner("u", "t", (), time.time() + 60)
    stalled = Connection("websocket", owner, max_queue=10)
    idle_sse = Connection("sse", owner, max_queue=10)
    busy_sse = Connection("sse", owner, max_queue=10)
    for conn in (stalled, idle_sse, busy_sse):
        runtime.connections[conn.id] = conn
    stalled.writer = asyncio.create_task(asyncio.sleep(60))
    now = time.monotonic()
    stalled.writing_since = now - 6
    idle_sse.last_write = now - 11
    busy_sse.last_write = now - 3
    runtime.sweep(now)
    assert stalled.closed and stalled.close_code == CloseCode.HEARTBEAT_TIMEOUT
    await asyncio.sleep(0)
    assert stalled.writer.cancelled()
    assert list(idle_sse.queue) == [KEEPALIVE]
    assert not busy_sse.queue
    runtime.record_sent(idle_sse, [KEEPALIVE, control("pong")])
    assert runtime.sent["sse"] == 1  # keep-alives are not messages
    assert idle_sse.writing_since == 0.0
