"""The in-process event bus: one append-only log per topic, kept in memory.

The embedded default when every service runs in one process. Each topic is a single
partition whose offsets start at 0; the log keeps at least the last ``retention``
messages (100 000 by default) and drops older ones, so a reader that falls further
behind than that skips ahead to the oldest retained message. Group positions live in a
dict and last as long as the bus. Members of one group do not share work here: each
durable subscription reads from the group's committed position (one process, one
member per group is the expected use).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from access_common.backends.bus import Bounds, ClosingContext, Message, StartPosition
from access_common.errors import BackendError

__all__ = ["DEFAULT_RETENTION", "MemoryBus", "MemorySubscription"]

DEFAULT_RETENTION = 100_000

_DETAILS = {"backend": "memory"}


class _Log:
    """One topic: retained messages, the offset of the first one, and who waits."""

    __slots__ = ("base", "messages", "readers", "topic")

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.messages: list[Message] = []
        self.base = 0
        self.readers: set[MemorySubscription] = set()

    @property
    def end(self) -> int:
        """The offset the next message will get."""
        return self.base + len(self.messages)


class MemorySubscription(ClosingContext):
    """A reader over one or more in-memory logs."""

    def __init__(
        self,
        bus: MemoryBus,
        logs: list[_Log],
        positions: list[int],
        group: str | None,
    ) -> None:
        self._bus = bus
        self._logs = logs
        self._positions = positions
        self._group = group
        self._wake = asyncio.Event()
        self._closed = False
        # Round-robin start so a busy first topic cannot starve the others.
        self._turn = 0
        for log in logs:
            log.readers.add(self)

    def __aiter__(self) -> MemorySubscription:
        """Iterate messages as they arrive (blocks until the next one)."""
        return self

    async def __anext__(self) -> Message:
        """The next message of any subscribed topic; stops once closed."""
        logs = self._logs
        positions = self._positions
        count = len(logs)
        while not self._closed:
            for step in range(count):
                index = (self._turn + step) % count
                log = logs[index]
                position = positions[index]
                if position < log.end:
                    # Fell behind retention: continue from the oldest message kept.
                    position = max(position, log.base)
                    positions[index] = position + 1
                    self._turn = index + 1
                    return log.messages[position - log.base]
            self._wake.clear()
            await self._wake.wait()
        raise StopAsyncIteration

    def _notify(self) -> None:
        self._wake.set()

    async def commit(self, message: Message) -> None:
        """Record the group's position after ``message`` (no-op without a group)."""
        if self._group is not None:
            self._bus._groups[(self._group, message.topic)] = message.offset + 1

    async def close(self) -> None:
        """Stop receiving; idempotent."""
        if self._closed:
            return
        self._closed = True
        for log in self._logs:
            log.readers.discard(self)
        self._bus._subscriptions.discard(self)
        self._wake.set()


class MemoryBus:
    """An in-process bus: topics are in-memory logs, offsets count from 0."""

    name = "memory"

    def __init__(self, *, retention: int = DEFAULT_RETENTION) -> None:
        if retention < 1:
            raise ValueError("retention must be at least 1")
        self._retention = retention
        # Trim in chunks so appending stays amortised O(1).
        self._trim_at = retention + max(1, retention // 4)
        self._logs: dict[str, _Log] = {}
        self._groups: dict[tuple[str, str], int] = {}
        self._subscriptions: set[MemorySubscription] = set()
        self._closed = False

    def _log(self, topic: str) -> _Log:
        log = self._logs.get(topic)
        if log is None:
            if not topic:
                raise ValueError("topic must not be empty")
            log = self._logs[topic] = _Log(topic)
        return log

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("The in-process bus is closed", details=_DETAILS)

    async def start(self) -> None:
        """Nothing to connect; idempotent."""
        self._check_open()

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Append to the topic's log and return the message's offset."""
        self._check_open()
        log = self._log(topic)
        offset = log.end
        log.messages.append(
            Message(
                topic=topic,
                value=value,
                key=key,
                headers=dict(headers) if headers else {},
                offset=offset,
                partition=0,
                timestamp_ms=time.time_ns() // 1_000_000,
            )
        )
        if len(log.messages) >= self._trim_at:
            drop = len(log.messages) - self._retention
            del log.messages[:drop]
            log.base += drop
        for reader in log.readers:
            reader._notify()
        return offset

    async def bounds(self, topic: str) -> Bounds:
        """The log's first retained offset and its end (one partition)."""
        self._check_open()
        log = self._log(topic)
        return {0: (log.base, log.end)}

    async def subscribe(
        self,
        topics: Sequence[str],
        *,
        group: str | None = None,
        start: StartPosition = "latest",
    ) -> MemorySubscription:
        """Start reading the topics; positioned when this returns."""
        self._check_open()
        if isinstance(topics, str):
            raise TypeError("topics must be a sequence of topic names, not a string")
        if not topics:
            raise ValueError("subscribe needs at least one topic")
        if isinstance(start, int) and start < 0:
            raise ValueError("start offset must not be negative")
        logs = [self._log(topic) for topic in dict.fromkeys(topics)]
        positions: list[int] = []
        for log in logs:
            committed = self._groups.get((group, log.topic)) if group is not None else None
            if committed is not None:
                positions.append(committed)
            elif start == "earliest":
                positions.append(log.base)
            elif start == "latest":
                positions.append(log.end)
            else:
                positions.append(start)
        subscription = MemorySubscription(self, logs, positions, group)
        self._subscriptions.add(subscription)
        return subscription

    async def ping(self) -> None:
        """Always answers while open."""
        self._check_open()

    async def close(self) -> None:
        """Close every subscription; idempotent."""
        if self._closed:
            return
        self._closed = True
        for subscription in list(self._subscriptions):
            await subscription.close()
