"""Put ``{topic, data}`` messages on the bus of each topic (the publish endpoint, the feed)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel, Field

from access_common.context import TRACEPARENT_HEADER, current_trace
from access_streaming.runtime import StreamingRuntime

__all__ = ["PublishItem", "PublishResult", "publish_many"]


class PublishItem(BaseModel):
    """One message to publish; ``data`` is delivered to subscribers unchanged."""

    topic: str
    data: Any
    key: str | None = Field(default=None, description="Bus key (same key, same order)")


class PublishResult(BaseModel):
    """What was published: how many, and each message's offset in order."""

    published: int
    offsets: list[int]


async def publish_many(runtime: StreamingRuntime, items: Sequence[PublishItem]) -> PublishResult:
    """Publish in order (pipelined: each bus keeps the order of its publishes)."""
    trace = current_trace()
    headers = {TRACEPARENT_HEADER: trace.outgoing().header()} if trace is not None else None
    calls = []
    for item in items:
        bus, _ = runtime.readers.bus_for(item.topic)
        key = item.key.encode() if item.key is not None else None
        calls.append(bus.publish(item.topic, orjson.dumps(item.data), key=key, headers=headers))
    offsets = await asyncio.gather(*calls)
    return PublishResult(published=len(offsets), offsets=list(offsets))
