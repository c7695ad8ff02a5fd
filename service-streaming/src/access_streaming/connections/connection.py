"""One subscriber connection (WebSocket or SSE): who it is, what it wants, what it is owed.

The publish path calls :meth:`Connection.push`, which only appends to a bounded queue
and wakes the connection's own writer: no await, no encoding, no I/O per subscriber.
The writer (one task per connection, in the WebSocket or SSE endpoint) takes everything
queued at once with :meth:`Connection.next_batch` and writes it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from access_streaming.fanout.filters import Filter
from access_streaming.fanout.frames import Frame

if TYPE_CHECKING:
    from access_streaming.connections.slots import Lease

__all__ = ["CloseCode", "Connection", "Owner", "Protocol"]

Protocol = Literal["websocket", "sse"]


class CloseCode:
    """WebSocket close codes the service sends (docs/streaming.md)."""

    NORMAL = 1000
    POLICY_VIOLATION = 1008
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    TOKEN_EXPIRED = 4001
    HEARTBEAT_TIMEOUT = 4002
    SLOW_CONSUMER = 4008


@dataclass(frozen=True, slots=True)
class Owner:
    """The verified principal a connection belongs to."""

    user_id: str
    tenant_id: str
    roles: tuple[str, ...]
    expires_at: float  # the token's exp, seconds since the epoch


class Connection:
    """A subscriber's queue, subscriptions and counters."""

    __slots__ = (
        "_waiter",
        "close_code",
        "close_reason",
        "closed",
        "created",
        "dropped",
        "filters",
        "id",
        "last_write",
        "lease",
        "max_queue",
        "owner",
        "protocol",
        "queue",
        "sent",
        "writer",
        "writing_since",
    )

    def __init__(self, protocol: Protocol, owner: Owner, *, max_queue: int) -> None:
        self.id = f"conn-{secrets.token_urlsafe(12)}"
        self.protocol: Protocol = protocol
        self.owner = owner
        self.created = time.time()
        self.max_queue = max_queue
        self.queue: deque[Frame] = deque()
        # topic -> the connection's filter on it (None: everything)
        self.filters: dict[str, Filter | None] = {}
        self.closed = False
        self.close_code = CloseCode.NORMAL
        self.close_reason = ""
        self.sent = 0
        self.dropped = 0
        self.lease: Lease | None = None
        # The writer task, and when its current write began (0: not writing) and the last
        # one ended: the runtime's once-a-second sweep reaps stalled writers and keeps
        # idle SSE streams alive from these, so the write path pays for no timer.
        self.writer: asyncio.Task[None] | None = None
        self.writing_since = 0.0
        self.last_write = time.monotonic()
        self._waiter: asyncio.Future[None] | None = None

    def push(self, frame: Frame) -> None:
        """Queue a frame for the writer; never blocks. A full queue closes the connection."""
        if self.closed:
            return
        queue = self.queue
        if len(queue) >= self.max_queue:
            self.dropped += 1
            self.close(CloseCode.SLOW_CONSUMER, "slow consumer: outgoing queue full")
            return
        queue.append(frame)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def close(self, code: int, reason: str) -> None:
        """Ask the writer to close with this code and reason (the first close wins)."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self.close_reason = reason
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def next_batch(self) -> list[Frame] | None:
        """Everything queued, waiting for at least one frame; None once closed."""
        while not self.queue:
            if self.closed:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            await waiter
        if self.closed:
            return None
        batch = list(self.queue)
        self.queue.clear()
        return batch
