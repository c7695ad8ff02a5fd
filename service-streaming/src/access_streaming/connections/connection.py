"""One subscriber connection (WebSocket or SSE): who it is, what it wants, what it is owed.

The publish path calls :meth:`Connection.push`, which only appends to a bounded queue
and wakes the connection's writer: no await, no encoding, no I/O per subscriber.
A WebSocket sets :attr:`Connection.notify` (a plain callback that schedules one flush
per loop turn, :mod:`access_streaming.ws.socket`) and takes the queue with
:meth:`Connection.take_batch`; an SSE stream's writer task awaits
:meth:`Connection.next_batch`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from typing import Protocol as _TypingProtocol

from access_streaming.connections.overflow import Gap, OverflowCounts, conflate_queue, gap_frame
from access_streaming.fanout.filters import Filter
from access_streaming.fanout.frames import ControlFrame, DataFrame, Frame, control

if TYPE_CHECKING:
    from access_streaming.connections.slots import Lease

__all__ = ["CloseCode", "Connection", "Owner", "Protocol", "Writer"]

Protocol = Literal["websocket", "sse"]


class Writer(_TypingProtocol):
    """What writes a connection out: an SSE writer task, or a WebSocket's socket."""

    def cancel(self) -> object:
        """Stop writing at once (the peer stopped reading)."""


class CloseCode:
    """WebSocket close codes the service sends (docs/streaming.md)."""

    NORMAL = 1000
    POLICY_VIOLATION = 1008
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    TOKEN_EXPIRED = 4001
    MESSAGE_TOO_BIG = 1009
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
        "__weakref__",
        "_waiter",
        "close_code",
        "close_reason",
        "closed",
        "counts",
        "created",
        "dropped",
        "dropping",
        "filters",
        "final",
        "holds",
        "id",
        "last_write",
        "lease",
        "max_queue",
        "notify",
        "owner",
        "protocol",
        "queue",
        "resume",
        "sent",
        "tasks",
        "writer",
        "writing_since",
    )

    def __init__(
        self,
        protocol: Protocol,
        owner: Owner,
        *,
        max_queue: int,
        counts: OverflowCounts | None = None,
    ) -> None:
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
        self.writer: Writer | None = None
        # Called (no argument, no await) whenever there is something to write or a close.
        self.notify: Callable[[], None] | None = None
        self.writing_since = 0.0
        self.last_write = time.monotonic()
        self._waiter: asyncio.Future[None] | None = None
        self.counts = counts if counts is not None else OverflowCounts()
        # topic -> live messages held back while a replay or snapshot is sent first
        self.holds: dict[str, list[DataFrame]] | None = None
        # Ranges dropped because the queue was full, announced once there is room.
        self.dropping: Gap | None = None
        # Sent after the queue, before the close frame (the slow consumer's resume point).
        self.final: ControlFrame | None = None
        # topic -> {partition: last offset seen} from SSE Last-Event-ID, used on subscribe
        self.resume: dict[str, dict[int, int]] | None = None
        self.tasks: set[asyncio.Task[None]] | None = None

    def deliver(self, frame: DataFrame) -> None:
        """The publish path: queue a data message, or hold it while its topic replays."""
        holds = self.holds
        if holds is not None:
            held = holds.get(frame.message.topic)
            if held is not None:
                held.append(frame)
                return
        queue = self.queue
        if not self.closed and self.dropping is None and len(queue) < self.max_queue:
            # The common case, inlined: no call beyond the append, and a wake-up only when
            # the queue was empty (a non-empty queue already has its flush or writer coming).
            queue.append(frame)
            if len(queue) == 1:
                notify = self.notify
                if notify is not None:
                    notify()
                else:
                    self._wake()
            return
        self.push(frame)

    def push(self, frame: Frame) -> None:
        """Queue a frame for the writer; never blocks. A full queue runs the overflow steps."""
        if self.closed:
            return
        queue = self.queue
        if not isinstance(frame, DataFrame):
            # Control messages (pong, errors, gaps) are few and rate-limited: never dropped.
            queue.append(frame)
            self._wake()
            return
        if self.dropping is not None:
            if len(queue) >= self.max_queue // 2:
                self._drop(frame)
                return
            self._announce_gaps()
        if len(queue) >= self.max_queue and not self._make_room(frame):
            return
        queue.append(frame)
        self._wake()

    def _wake(self) -> None:
        notify = self.notify
        if notify is not None:
            notify()
            return
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _make_room(self, frame: Frame) -> bool:
        """Step 1: conflate the queue; True when the frame now fits."""
        queue = self.queue
        conflate_queue(queue, self.counts, "conflated")
        if len(queue) < self.max_queue:
            return True
        self._drop(frame)
        return False

    def _drop(self, frame: Frame) -> None:
        """Step 2: drop and remember the range; step 3 once a queue's worth is lost."""
        self.dropped += 1
        if not isinstance(frame, DataFrame):
            return
        m = frame.message
        gaps = self.dropping
        if gaps is None:
            gaps = self.dropping = {}
        span = gaps.get((m.topic, m.partition))
        if span is None:
            gaps[(m.topic, m.partition)] = [m.offset, m.offset, 1]
        else:
            span[1] = m.offset
            span[2] += 1
        self.counts.add(m.topic, "dropped")
        if sum(span[2] for span in gaps.values()) >= self.max_queue:
            self._disconnect_slow()

    def _announce_gaps(self) -> None:
        gaps, self.dropping = self.dropping, None
        for (topic, partition), (first, last, count) in (gaps or {}).items():
            self.counts.add(topic, "gap")
            self.queue.append(gap_frame(topic, partition, first, last, count, "slow_consumer"))

    def resume_position(self) -> dict[str, dict[str, int]]:
        """Per topic and partition, the last offset before the first one not delivered."""
        position: dict[str, dict[str, int]] = {}
        # Queued messages are older than dropped ones: the first one queued wins.
        for frame in self.queue:
            if isinstance(frame, DataFrame):
                m = frame.message
                position.setdefault(m.topic, {}).setdefault(str(m.partition), m.offset - 1)
        for (topic, partition), (first, _, _) in (self.dropping or {}).items():
            position.setdefault(topic, {}).setdefault(str(partition), first - 1)
        return position

    def _disconnect_slow(self) -> None:
        """Close with 4008 after an error message naming where to resume from."""
        position = self.resume_position()
        for topic in position:
            self.counts.add(topic, "disconnected")
        self.queue.clear()
        self.final = control(
            "error",
            error="SLOW_CONSUMER",
            message="The connection could not keep up; resume from details.since",
            details={"since": position},
        )
        self.close(CloseCode.SLOW_CONSUMER, "slow consumer: resume from the SLOW_CONSUMER error")

    def close(self, code: int, reason: str) -> None:
        """Ask the writer to close with this code and reason (the first close wins)."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self.close_reason = reason
        self._wake()

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
        return self.take_batch()

    def take_batch(self) -> list[Frame]:
        """Everything queued now (maybe nothing); the gaps to announce are queued next."""
        batch = list(self.queue)
        self.queue.clear()
        if self.dropping is not None:
            # The writer just emptied the queue: say what was lost before anything else.
            self._announce_gaps()
        return batch
