"""A subscription: its topics' readers merged into one queue, with commit and close."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from access_common.backends._nats.codec import ACK, DRIVER_ERRORS, error
from access_common.backends._nats.reader import BATCH, Reader
from access_common.backends.bus import ClosingContext, Message

if TYPE_CHECKING:
    from access_common.backends._nats.connection import Connection

__all__ = ["NatsSubscription"]

_CLOSED = object()


class NatsSubscription(ClosingContext):
    """Messages of one or more topics, merged in arrival order."""

    def __init__(self, connection: Connection, group: str | None) -> None:
        self._connection = connection
        self._group = group
        self._readers: dict[str, Reader] = {}
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._high_water = 2 * BATCH
        self._starved = False
        self._closed = False

    def __aiter__(self) -> NatsSubscription:
        """Iterate messages as they arrive (blocks until the next one)."""
        return self

    async def __anext__(self) -> Message:
        """The next message of any subscribed topic; stops once closed."""
        if self._closed:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _CLOSED or self._closed:
            raise StopAsyncIteration
        if self._starved and self._queue.qsize() <= BATCH // 2:
            self._starved = False
            for reader in self._readers.values():
                if reader.starved:
                    await reader.top_up()
        message: Message = item
        return message

    async def commit(self, message: Message) -> None:
        """Ack every message received up to ``message`` (no-op without a group)."""
        reader = self._readers.get(message.topic)
        if reader is None or reader.durable is None:
            return
        last: str | None = None
        unacked = reader.unacked
        while unacked and unacked[0][0] <= message.offset:
            if last is not None:
                await self._connection.publish_quietly(last, ACK)
            last = unacked.popleft()[1]
        if last is None:
            return
        try:
            # Acks before it were sent on the same connection, so this reply covers them.
            await self._connection.nc_required().request(
                last, ACK, timeout=self._connection.timeout
            )
        except DRIVER_ERRORS as exc:
            raise error("commit", exc) from exc

    async def close(self) -> None:
        """Stop receiving; idempotent."""
        if self._closed:
            return
        self._closed = True
        # Wake a pending __anext__ now; handing messages back below may take a second.
        self._queue.put_nowait(_CLOSED)
        self._connection.subscriptions.discard(self)
        for reader in self._readers.values():
            self._connection.readers.discard(reader)
        await asyncio.gather(*(reader.stop() for reader in self._readers.values()))
        nc = self._connection.nc
        if nc is not None and nc.is_connected:
            with contextlib.suppress(*DRIVER_ERRORS):
                await nc.flush(timeout=1)
