"""Put ``{topic, data}`` messages on the bus of each topic (the publish endpoint, the feed).

The endpoint is the load tools' way in (``ACCESS_ENV=local``), so its cost is on the
measured path of every delivery: the body is parsed once with orjson and checked by hand
(no model per item), each ``data`` is encoded once, and in-process publishes are awaited
one after the other (they never suspend: no task per message), while a broker's
publishes are pipelined so their acknowledgements overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from access_common.backends.memory_bus import MemoryBus
from access_common.context import TRACEPARENT_HEADER, current_trace
from access_common.errors import ValidationFailed
from access_streaming.runtime import StreamingRuntime

__all__ = ["PublishItem", "parse_items", "publish_many", "publish_posted", "result_body"]


@dataclass(frozen=True, slots=True)
class PublishItem:
    """One message to publish; ``data`` is delivered to subscribers unchanged."""

    topic: str
    data: Any
    key: str | None = None


def _invalid(loc: list[str | int], msg: str, kind: str) -> ValidationFailed:
    # The same details as FastAPI's request validation (docs/errors.md), input left out.
    return ValidationFailed(details={"errors": [{"loc": loc, "msg": msg, "type": kind}]})


def parse_items(body: bytes) -> list[PublishItem]:
    """``{topic, data, key?}`` or a list of them; ValidationFailed (422) for anything else.

    Topic names are checked against the registry by the caller (400/404).
    """
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _invalid(["body"], "JSON decode error", "json_invalid") from None
    single = not isinstance(parsed, list)
    entries: list[Any] = [parsed] if single else parsed
    items: list[PublishItem] = []
    for index, entry in enumerate(entries):
        loc: list[str | int] = ["body"] if single else ["body", index]
        if not isinstance(entry, dict):
            raise _invalid(loc, "Input should be an object {topic, data, key?}", "model_type")
        if "data" not in entry:
            raise _invalid([*loc, "data"], "Field required", "missing")
        topic = entry.get("topic")
        if topic is None:
            raise _invalid([*loc, "topic"], "Field required", "missing")
        key = entry.get("key")
        if key is not None and not isinstance(key, str):
            raise _invalid([*loc, "key"], "Input should be a valid string", "string_type")
        items.append(PublishItem(topic, entry["data"], key))
    return items


async def publish_many(runtime: StreamingRuntime, items: Sequence[PublishItem]) -> list[int]:
    """Publish in order; each message's offset, in order (each bus keeps its publish order)."""
    trace = current_trace()
    headers = {TRACEPARENT_HEADER: trace.outgoing().header()} if trace is not None else None
    bus_for = runtime.readers.bus_for
    offsets: list[int] = []
    calls: list[Coroutine[Any, Any, int]] = []
    for item in items:
        bus, _ = bus_for(item.topic)
        key = item.key.encode() if item.key is not None else None
        publish = bus.publish(item.topic, orjson.dumps(item.data), key=key, headers=headers)
        if isinstance(bus, MemoryBus) and not calls:
            # Appends at once and wakes the topic's reader: no task, no loop turn per message.
            offsets.append(await publish)
        else:
            calls.append(publish)
    if calls:
        offsets += await asyncio.gather(*calls)
    return offsets


async def publish_posted(runtime: StreamingRuntime, body: bytes) -> bytes:
    """The endpoint's work: parse, check every topic (400/404) before any is published.

    On the in-process bus the answer waits two loop turns: the topic readers these publishes
    woke dispatch in the first, the WebSocket flush they scheduled writes in the second
    (asyncio runs ready callbacks in order). The HTTP answer and the middleware around it
    then come after the deliveries instead of before them, as in the engine peer and the
    plain baseline, which fan out before they answer.
    """
    items = parse_items(body)
    for item in items:
        runtime.registry.get(item.topic)
    offsets = await publish_many(runtime, items)
    if items and any(isinstance(runtime.readers.bus_for(i.topic)[0], MemoryBus) for i in items):
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    return result_body(offsets)


def result_body(offsets: list[int]) -> bytes:
    """The answer ``{published, offsets}`` as JSON."""
    return orjson.dumps({"published": len(offsets), "offsets": offsets})
