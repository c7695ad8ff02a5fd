"""Slow consumers: a full queue conflates, then drops with a gap, then disconnects."""

from __future__ import annotations

import orjson

from access_common.backends.bus import Message
from access_streaming.connections import CloseCode, Connection, Owner
from access_streaming.connections.overflow import OverflowCounts
from access_streaming.fanout import ControlFrame, DataFrame, control
from access_streaming.resume.replay import Held

OWNER = Owner("u", "t", (), 0.0)


def frame(offset: int, key: str | None, topic: str = "prices") -> DataFrame:
    message = Message(topic, orjson.dumps({"o": offset}), offset=offset, partition=0)
    return DataFrame(message, {"o": offset}, key)


def body(frame: object) -> dict[str, object]:
    assert isinstance(frame, ControlFrame)
    decoded: dict[str, object] = orjson.loads(frame.ws_text())
    return decoded


async def test_step_one_conflates_the_queue_to_the_newest_per_key() -> None:
    counts = OverflowCounts()
    conn = Connection("websocket", OWNER, max_queue=8, counts=counts)
    for offset in range(8):
        conn.deliver(frame(offset, f"k{offset % 2}"))
    conn.deliver(frame(8, "k0"))
    # The newest of k0 (6) and of k1 (7) stay, then the new one.
    assert [f.message.offset for f in conn.queue if isinstance(f, DataFrame)] == [6, 7, 8]
    assert counts.by_topic["prices"]["conflated"] == 6
    assert not conn.closed


async def test_step_two_drops_and_announces_the_gap_when_there_is_room() -> None:
    counts = OverflowCounts()
    conn = Connection("websocket", OWNER, max_queue=8, counts=counts)
    for offset in range(8):
        conn.deliver(frame(offset, None))
    for offset in range(8, 11):
        conn.deliver(frame(offset, None))
    assert counts.by_topic["prices"]["dropped"] == 3
    first = await conn.next_batch() or []
    assert [f.message.offset for f in first if isinstance(f, DataFrame)] == list(range(8))
    conn.deliver(frame(11, None))
    batch = await conn.next_batch() or []
    assert body(batch[0]) == {
        "type": "gap", "topic": "prices", "partition": 0,
        "from": 8, "to": 10, "count": 3, "reason": "slow_consumer",
    }  # fmt: skip
    assert isinstance(batch[1], DataFrame) and batch[1].message.offset == 11
    assert counts.by_topic["prices"]["gap"] == 1


async def test_control_messages_are_never_dropped() -> None:
    conn = Connection("websocket", OWNER, max_queue=4)
    for offset in range(6):
        conn.deliver(frame(offset, None))
    conn.push(control("pong"))
    assert isinstance(conn.queue[-1], ControlFrame)


async def test_step_three_disconnects_with_the_resume_position() -> None:
    counts = OverflowCounts()
    conn = Connection("websocket", OWNER, max_queue=8, counts=counts)
    for offset in range(100, 108):
        conn.deliver(frame(offset, None))
    for offset in range(108, 116):
        conn.deliver(frame(offset, None))
    assert conn.closed and conn.close_code == CloseCode.SLOW_CONSUMER
    assert await conn.next_batch() is None
    final = body(conn.final)
    assert final["error"] == "SLOW_CONSUMER"
    # Nothing from offset 100 on was written: resume after 99.
    assert final["details"] == {"since": {"prices": {"0": 99}}}
    assert counts.by_topic["prices"]["disconnected"] == 1


async def test_held_messages_wait_for_the_replay() -> None:
    conn = Connection("websocket", OWNER, max_queue=8)
    conn.holds = {"prices": Held(2)}
    for offset in range(3):
        conn.deliver(frame(offset, None))
    conn.deliver(frame(9, None, topic="curves"))
    held = conn.holds["prices"]
    assert isinstance(held, Held) and len(held) == 2 and held.overflowed
    assert [f.message.topic for f in conn.queue if isinstance(f, DataFrame)] == ["curves"]
