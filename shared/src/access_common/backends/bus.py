"""The event bus interface: topics, keys, headers, offsets and consumer positions.

Implementations: :class:`~access_common.backends.memory_bus.MemoryBus` (in-process),
:class:`~access_common.backends.nats_bus.NatsBus` (NATS JetStream) and
:class:`~access_common.backends.kafka_bus.KafkaBus` (aiokafka); all pass
``shared/tests/backends/test_bus_contract.py``.

Delivery model, the same on every engine:

* ``subscribe(group=None)`` is a *broadcast* reader: it sees every message of every
  partition of its topics from ``start`` on. A streaming instance uses this, so two
  instances both see everything (a shared consumer group would split the partitions
  between them and their clients would silently miss messages).
* ``subscribe(group="name")`` is a durable reader: its position is stored by the
  engine on :meth:`Subscription.commit`, and a new subscription of the same group
  resumes after the last committed message (``start`` applies only when the group
  has no position yet).
* Offsets grow monotonically per topic partition; messages with the same key keep
  their publish order.
* ``bounds(topic)`` says, per partition, the oldest offset still retained and the offset
  after the topic's newest message, so a reader resuming from a position knows what
  retention dropped and where the log ended when it asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, Self, runtime_checkable

__all__ = ["Bounds", "Bus", "ClosingContext", "Message", "StartPosition", "Subscription"]

StartPosition = Literal["earliest", "latest"] | int
# partition -> (oldest offset retained, offset after the topic's newest message)
Bounds = dict[int, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Message:
    """One message as a subscriber receives it."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    offset: int = 0
    partition: int = 0
    timestamp_ms: int = 0


@runtime_checkable
class Subscription(Protocol):
    """An async iterator of messages; close it (or use ``async with``) when done."""

    def __aiter__(self) -> AsyncIterator[Message]:
        """Iterate messages as they arrive (blocks until the next one)."""
        ...

    async def commit(self, message: Message) -> None:
        """Record the group's position after ``message`` (no-op without a group)."""
        ...

    async def close(self) -> None:
        """Stop receiving; idempotent."""
        ...

    async def __aenter__(self) -> Subscription: ...

    async def __aexit__(self, *exc: object) -> None: ...


class ClosingContext:
    """``async with`` support for a subscription: closes it on exit (shared by the engines)."""

    async def close(self) -> None:
        """Stop receiving; engines override this."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@runtime_checkable
class Bus(Protocol):
    """Publish to topics and subscribe to them.

    Every method raises :class:`access_common.errors.BackendError` when the engine
    cannot be reached, never a driver exception.
    """

    name: str

    async def start(self) -> None:
        """Connect; idempotent."""
        ...

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Publish durably (acknowledged by the engine) and return the message's offset."""
        ...

    async def subscribe(
        self,
        topics: Sequence[str],
        *,
        group: str | None = None,
        start: StartPosition = "latest",
    ) -> Subscription:
        """Start reading the topics; returns once the reader is positioned."""
        ...

    async def bounds(self, topic: str) -> Bounds:
        """Per partition: the oldest retained offset and the offset after the newest message.

        An empty partition answers ``(n, n)``. On NATS the first value is the stream's
        oldest sequence (a stream holds several topics), the second the topic's own.
        """
        ...

    async def ping(self) -> None:
        """Return when the engine answers; raise BackendError otherwise."""
        ...

    async def close(self) -> None:
        """Close every subscription and the connection; idempotent."""
        ...
