"""Replay on the in-process bus: held live messages, the handover, retention gaps, revocation."""

from __future__ import annotations

import orjson

from access_common.backends.bus import Message
from access_common.backends.memory_bus import MemoryBus
from access_streaming.connections import Connection, Owner
from access_streaming.fanout import ControlFrame, DataFrame, Hub
from access_streaming.resume import Replay

OWNER = Owner("u", "t", (), 0.0)


async def publish(bus: MemoryBus, start: int, stop: int) -> list[Message]:
    sent = []
    for seq in range(start, stop):
        offset = await bus.publish("t", orjson.dumps({"seq": seq}))
        sent.append(Message("t", orjson.dumps({"seq": seq}), offset=offset))
    return sent


def offsets(conn: Connection) -> list[int]:
    return [f.message.offset for f in conn.queue if isinstance(f, DataFrame)]


async def test_replay_then_held_live_messages_once_each_in_order() -> None:
    bus, hub = MemoryBus(), Hub()
    await publish(bus, 0, 10)
    conn = Connection("websocket", OWNER, max_queue=1000)
    replay = Replay(bus, hub, conn, "t", {0: 2}, None)
    replay.hold()
    hub.add(conn, "t", None)
    for message in await publish(bus, 10, 12):  # live while the replay has not run yet
        hub.dispatch(message)
    assert offsets(conn) == []
    await replay.run()
    assert conn.holds is None
    for message in await publish(bus, 12, 13):
        hub.dispatch(message)
    assert offsets(conn) == list(range(3, 13))


async def test_a_position_before_retention_gets_a_gap_first() -> None:
    bus, hub = MemoryBus(retention=4), Hub()
    await publish(bus, 0, 10)  # the log keeps offsets 5..9 (trimmed in chunks)
    first = (await bus.bounds("t"))[0][0]
    conn = Connection("websocket", OWNER, max_queue=1000)
    replay = Replay(bus, hub, conn, "t", {0: 1}, None)
    replay.hold()
    hub.add(conn, "t", None)
    await replay.run()
    gap = conn.queue[0]
    assert isinstance(gap, ControlFrame)
    assert orjson.loads(gap.ws_text())["from"] == 2
    assert orjson.loads(gap.ws_text())["to"] == first - 1
    assert offsets(conn) == list(range(first, 10))


async def test_an_unsubscribed_topic_gets_nothing_from_its_replay() -> None:
    bus, hub = MemoryBus(), Hub()
    await publish(bus, 0, 5)
    conn = Connection("websocket", OWNER, max_queue=1000)
    replay = Replay(bus, hub, conn, "t", {0: 0}, None)
    replay.hold()
    hub.add(conn, "t", None)
    for message in await publish(bus, 5, 6):
        hub.dispatch(message)
    hub.remove(conn, "t")
    await replay.run()
    assert offsets(conn) == []
