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
from typing import Any

import httpx
import orjson
import uvloop

from access_common.backends.bus import Message
from access_streaming.gcstats import THRESHOLDS
from access_streaming.testing import (
    FakeEntitlements,
    StreamingServer,
    read_sse,
    recv_type,
    send_json,
    ws_connect,
)
from access_streaming.topics import TopicRegistry

from .conftest import Mint, StartStreaming

_PER_ROUND = 25
_SSE_PER_ROUND = 5
_ROUNDS = 6
# The clients run in this process too (httpx leaves cycles of its own): the server's
# objects are told by their module, or for a transport by its local port.
_SERVER_MODULES = ("access_", "uvicorn", "httptools", "wsproto", "starlette", "fastapi")


def _servers(garbage: list[Any], port: int) -> list[str]:
    """The names of the server's objects among ``garbage``."""
    names = set()
    for o in garbage:
        kind = type(o)
        if kind.__module__.startswith(_SERVER_MODULES) or (
            isinstance(o, asyncio.BaseTransport) and o.get_extra_info("sockname")[1] == port
        ):
            names.add(f"{kind.__module__}.{kind.__qualname__}")
    return sorted(names)


async def _round(server: StreamingServer, token: str, topic: str, offset: int) -> None:
    """Open WebSockets (subscribed, one message delivered) and SSE streams, freeze, close."""
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
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=server.http_url, timeout=10)
        )
        for _ in range(_SSE_PER_ROUND):
            response = await stack.enter_async_context(
                client.stream("GET", "/sse/stream", params={"token": token})
            )
            events = read_sse(response.aiter_lines())
            async with asyncio.timeout(5):
                assert (await anext(events)).event == "connection_established"
        gc.collect()  # a full collection: every open connection is frozen now
    async with asyncio.timeout(10):
        while runtime.active["websocket"] or runtime.active["sse"]:
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    gc.collect()


def _thaw_and_collect(server: StreamingServer) -> list[str]:
    """Unfreeze everything and collect; the server's objects among the garbage found."""
    pauses = server.runtime.gc
    pauses.freeze = False
    gc.unfreeze()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        leaked = _servers(gc.garbage, server.port)
        gc.garbage.clear()
    finally:
        gc.set_debug(0)
        # Free what was kept for inspection; a second pass also untracks the dicts left
        # holding only untracked values (one level per collection).
        gc.collect()
        gc.collect()
        gc.freeze()
        pauses.freeze = True
    return leaked


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
        leaked = _thaw_and_collect(server)
        # Counted after a collection of everything: it also untracks the dicts and tuples
        # frozen while they held containers, which a frozen set keeps counting.
        grown = gc.get_freeze_count() - before
        assert server.runtime.gc.freezes >= 2 * _ROUNDS
    assert leaked == []
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
