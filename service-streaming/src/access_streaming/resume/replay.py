"""Replay one topic for one connection from the broker, then hand over to live delivery.

While a replay runs, the live messages of that topic for that connection are *held*
(:meth:`Connection.deliver`). The replay asks the bus for the topic's bounds, announces
what retention dropped (a ``gap`` message), reads from the client's position up to the
end the bounds gave, then releases the held live messages at or after that end: every
message once, in order, none missing. Live messages held past the queue size are not
kept; the replay then reads on to the new end instead. The replay waits while the
connection's queue is half full, so a long replay cannot overflow it.
"""

from __future__ import annotations

import asyncio
import logging

from access_common.backends.bus import Bus, Message
from access_common.errors import AccessError
from access_streaming.connections import Connection
from access_streaming.connections.overflow import gap_frame
from access_streaming.fanout import DataFrame, Filter, Hub, control

__all__ = ["Held", "Replay"]

logger = logging.getLogger("access_streaming.resume")

_ROOM_POLL_SECONDS = 0.01


class Held(list[DataFrame]):
    """Live messages held back during a replay, up to ``limit`` (then ``overflowed``)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.overflowed = False

    def append(self, frame: DataFrame) -> None:
        """Keep the frame unless the limit is reached (the replay reads it instead)."""
        if len(self) < self.limit:
            super().append(frame)
        else:
            self.overflowed = True


class Replay:
    """One topic's replay for one connection (run as a task, or awaited)."""

    def __init__(
        self,
        bus: Bus,
        hub: Hub,
        connection: Connection,
        topic: str,
        since: dict[int, int],
        filter_: Filter | None,
    ) -> None:
        self._bus = bus
        self._hub = hub
        self._connection = connection
        self._topic = topic
        self._since = since
        self._filter = filter_
        self.replayed = 0

    def _gone(self) -> bool:
        """The connection closed, or left (or lost) the topic meanwhile: replay no more."""
        connection = self._connection
        return connection.closed or self._topic not in connection.filters

    def hold(self) -> None:
        """Start holding the topic's live messages (call before joining the hub)."""
        connection = self._connection
        if connection.holds is None:
            connection.holds = {}
        connection.holds[self._topic] = Held(connection.max_queue)

    def _release(self) -> list[DataFrame]:
        holds = self._connection.holds or {}
        held = holds.pop(self._topic, [])
        if not holds:
            self._connection.holds = None
        return held

    async def run(self) -> None:
        """Announce gaps, replay, hand over; a bus failure is reported, live goes on."""
        connection = self._connection
        ends: dict[int, int] = {}
        try:
            ends = await self._replay()
        except AccessError as exc:
            logger.warning("replay of %s failed: %s", self._topic, exc.code)
            connection.push(
                control(
                    "error",
                    error="RESUME_UNAVAILABLE",
                    message="The position could not be replayed; live delivery continues",
                    details={"topic": self._topic, "cause": exc.code},
                )
            )
        finally:
            held = self._release()
        if self._gone():
            return
        for frame in held:
            end = ends.get(frame.message.partition)
            if end is None or frame.message.offset >= end:
                connection.push(frame)

    async def _replay(self) -> dict[int, int]:
        """Replay to the end; the end per partition (live takes over from there)."""
        connection = self._connection
        topic = self._topic
        bounds = await self._bus.bounds(topic)
        todo: dict[int, tuple[int, int]] = {}
        ends: dict[int, int] = {}
        for partition, last in self._since.items():
            if partition not in bounds:
                continue
            first, end = bounds[partition]
            ends[partition] = end
            want = last + 1
            if want < first:
                connection.counts.add(topic, "gap_retention")
                connection.push(
                    gap_frame(topic, partition, want, first - 1, first - want, "retention")
                )
                want = first
            if want < end:
                todo[partition] = (want, end)
        if not todo:
            return ends
        start = min(want for want, _ in todo.values())
        subscription = await self._bus.subscribe([topic], start=start)
        try:
            async for message in subscription:
                if self._gone():
                    return ends
                span = todo.get(message.partition)
                if span is None or message.offset < span[0]:
                    continue
                if message.offset < span[1]:
                    self._send(message)
                if message.offset >= span[1] - 1:
                    del todo[message.partition]
                    if not todo:
                        todo, ends = await self._more(ends)
                        if not todo:
                            break
                # Back-pressure: the writer drains the queue; there is no event for "room".
                while True:
                    if len(connection.queue) < connection.max_queue // 2 or self._gone():
                        break
                    await asyncio.sleep(_ROOM_POLL_SECONDS)
        finally:
            await subscription.close()
        return ends

    async def _more(
        self, ends: dict[int, int]
    ) -> tuple[dict[int, tuple[int, int]], dict[int, int]]:
        """After the end: done, unless live messages overflowed the hold (then read on)."""
        held = (self._connection.holds or {}).get(self._topic)
        if not isinstance(held, Held) or not held.overflowed:
            return {}, ends
        held.clear()
        held.overflowed = False
        bounds = await self._bus.bounds(self._topic)
        todo = {p: (ends[p], bounds[p][1]) for p in ends if p in bounds and bounds[p][1] > ends[p]}
        return todo, {p: bounds[p][1] if p in bounds else end for p, end in ends.items()}

    def _send(self, message: Message) -> None:
        frame = self._hub.frame(message, remember=False)
        if frame is None:
            return
        if self._filter is not None and not self._filter.matches(frame.data):
            return
        self.replayed += 1
        self._connection.push(frame)
