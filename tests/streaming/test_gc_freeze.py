"""Freezing after full collections leaks nothing: connections opened and closed stay freeable.

The runtime freezes every survivor of a full collection (``gcstats``). A frozen object is
never walked by the collector again, so anything a connection holds that still forms a
reference cycle once it closes would stay in memory for good. Every round here freezes
while its connections are open (the worst moment), then closes them; afterwards the
frozen set is thawed and collected once: nothing of the server may turn up as garbage,
and the frozen set may not grow with the connections opened. Run on uvloop, the loop
the service runs on (``uvicorn``'s ``auto``).
"""

from __future__ import annotations

import asyncio
import gc
import time
from contextlib import AsyncExitStack

import orjson
import uvloop

from access_common.backends.bus import Message
from access_streaming.gcstats import THRESHOLDS
from access_streaming.testing import (
    FakeEntitlements,
    StreamingServer,
    recv_type,
    send_json,
    ws_connect,
)
from access_streaming.topics import TopicRegistry

from .conftest import Mint, StartStreaming

_PER_ROUND = 25
_ROUNDS = 6
_SERVER_MODULES = ("access_", "uvicorn", "uvloop", "httptools", "wsproto", "starlette")


async def _round(server: StreamingServer, token: str, topic: str, offset: int) -> None:
    """Open, subscribe, deliver one message, freeze with everything open, close, collect."""
    runtime = server.runtime
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(await ws_connect(server, token))
            for _ in range(_PER_ROUND)
        ]
        for ws in clients:
            await recv_type(ws, "connection_established")
            await send_json(ws, {"action": "subscribe", "data": {"topics": [topic]}})
            await recv_type(ws, "subscribed")
        value = orjson.dumps({"n": offset})
        runtime.hub.dispatch(
            Message(topic, value, offset=offset, partition=0, timestamp_ms=int(time.time() * 1000))
        )
        for ws in clients:
            assert (await recv_type(ws, "data"))["data"] == {"n": offset}
        gc.collect()  # a full collection: every open connection is frozen now
    async with asyncio.timeout(10):
        while runtime.active["websocket"]:
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    gc.collect()


def _thaw_and_collect(server: StreamingServer) -> list[object]:
    """Unfreeze everything and collect once; the garbage found (it was frozen)."""
    pauses = server.runtime.gc
    pauses.freeze = False
    gc.unfreeze()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        garbage = list(gc.garbage)
        gc.garbage.clear()
    finally:
        gc.set_debug(0)
        gc.freeze()
        pauses.freeze = True
    return garbage


async def _scenario(
    start_streaming: StartStreaming, registry: TopicRegistry, entitlements: FakeEntitlements,
    mint: Mint,
) -> None:  # fmt: skip
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
    topic, _ = registry.names()
    entitlements.allow("tenant-a", "analyst", topic)
    token = await mint("alice", "tenant-a")
    async with start_streaming(registry) as server:
        assert gc.get_threshold() == THRESHOLDS  # set while the runtime runs
        for offset in range(2):  # warm-up: caches and metric children built once
            await _round(server, token, topic, offset)
        _thaw_and_collect(server)
        before = gc.get_freeze_count()
        for offset in range(2, 2 + _ROUNDS):
            await _round(server, token, topic, offset)
        garbage = _thaw_and_collect(server)
        # Counted after a collection of everything: it also untracks the dicts and tuples
        # frozen while they held containers, which a frozen set keeps counting.
        grown = gc.get_freeze_count() - before
        assert server.runtime.gc.freezes >= 2 * _ROUNDS
    leaked = sorted(
        {f"{type(o).__module__}.{type(o).__qualname__}" for o in garbage
         if type(o).__module__.startswith(_SERVER_MODULES)}
    )  # fmt: skip
    assert leaked == []
    assert len(garbage) < _PER_ROUND, garbage[:20]
    # What stays per connection opened: the message rate limiter's one-second bucket,
    # pruned once enough pile up (access_common.ratelimit), nothing of the connection.
    assert grown < 2 * _PER_ROUND * _ROUNDS, grown


def test_connections_opened_and_closed_leave_nothing_frozen(
    start_streaming: StartStreaming, registry: TopicRegistry, entitlements: FakeEntitlements,
    mint: Mint,
) -> None:  # fmt: skip
    previous = gc.get_threshold()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_scenario(start_streaming, registry, entitlements, mint))
    assert gc.get_threshold() == previous  # put back when the runtime stops
