"""Conflation by rate: the first message per key at once, then the newest per interval."""

from __future__ import annotations

import asyncio

import orjson

from access_common.backends.bus import Message
from access_streaming.fanout import DataFrame
from access_streaming.fanout.conflation import Conflater


def frame(value: int, key: str | None) -> DataFrame:
    return DataFrame(Message("p", orjson.dumps(value), offset=value), value, key)


async def test_newest_value_per_key_at_most_max_rate() -> None:
    sent: list[tuple[object, int]] = []
    conflated: list[str] = []
    conflater = Conflater(20.0, lambda f: sent.append((f.key, f.data)), conflated.append)
    for value in range(10):
        conflater.offer(frame(value, "a"))
        conflater.offer(frame(100 + value, None))
    conflater.offer(frame(50, "b"))
    assert sent[0] == ("a", 0)
    assert ("b", 50) in sent and len([s for s in sent if s[0] is None]) == 10
    await asyncio.sleep(0.08)
    assert sent[-1] == ("a", 9)
    assert len([s for s in sent if s[0] == "a"]) == 2
    assert len(conflated) == 8
    conflater.close()
