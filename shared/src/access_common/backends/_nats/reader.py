"""The pull readers of a subscription: one per topic, broadcast or group (durable)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as CoreSubscription
from nats.js import api

from access_common.backends._nats.codec import DRIVER_ERRORS, NAK, ack_fields, decode_headers
from access_common.backends.bus import Message, StartPosition

if TYPE_CHECKING:
    from access_common.backends._nats.subscription import NatsSubscription

__all__ = ["BATCH", "HEARTBEAT_S", "Reader"]

logger = logging.getLogger("access_common.bus.nats")

_API = "$JS.API"
_STATUS = "Status"
_PENDING_MSGS = "Nats-Pending-Messages"

# Pull requests: up to BATCH messages in flight per reader, each request lives 30 s
# and the server sends a heartbeat every 5 s while it waits; a reader that hears
# nothing for three heartbeats asks again (and learns whether its consumer is gone).
BATCH = 256
_EXPIRES_S = 30.0
HEARTBEAT_S = 5.0
_STALE_S = 3 * HEARTBEAT_S
# Durable readers ask in short requests so close() can let the last one expire before it
# naks uncommitted messages (see Reader.stop).
_DURABLE_EXPIRES_S = 1.0
_EPHEMERAL_IDLE_S = 60.0
_DURABLE_IDLE_S = 7 * 24 * 3600.0
_RETRY_MAX_S = 10.0


class Reader:
    """One topic of a subscription: a pull consumer and the requests that feed it."""

    def __init__(
        self,
        subscription: NatsSubscription,
        topic: str,
        stream: str,
        durable: str | None,
        start: StartPosition,
        *,
        ack_wait: float,
    ) -> None:
        self.subscription = subscription
        self.connection = subscription._connection
        self.topic = topic
        self.stream = stream
        self.durable = durable
        self.start = start
        self.ack_wait = ack_wait
        self.consumer = ""
        self.inbox: CoreSubscription | None = None
        self.next_subject = ""
        # Broadcast: the stream sequence to resume from and the consumer sequence the
        # next delivery must carry (anything else means a message was lost).
        self.next_seq = 0
        self.next_dseq = 1
        # Durable: (stream sequence, ack subject) received but not committed yet.
        self.unacked: deque[tuple[int, str]] = deque()
        self.pending = 0
        self.last_heard = time.monotonic()
        self.starved = False
        self.closed = False
        self.recovering = False
        self.expires_at = 0.0

    def _config(self, resume: bool) -> api.ConsumerConfig:
        if resume and self.durable is None:
            policy, sequence = api.DeliverPolicy.BY_START_SEQUENCE, max(self.next_seq, 1)
        elif self.start == "earliest":
            policy, sequence = api.DeliverPolicy.ALL, None
        elif self.start == "latest":
            policy, sequence = api.DeliverPolicy.NEW, None
        elif self.start <= 1:
            policy, sequence = api.DeliverPolicy.ALL, None
        else:
            policy, sequence = api.DeliverPolicy.BY_START_SEQUENCE, self.start
        if self.durable is not None:
            return api.ConsumerConfig(
                name=self.durable,
                durable_name=self.durable,
                deliver_policy=policy,
                opt_start_seq=sequence,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait,
                filter_subject=self.topic,
                inactive_threshold=_DURABLE_IDLE_S,
            )
        return api.ConsumerConfig(
            name=self.connection.nc_required().new_inbox().rsplit(".", 1)[-1],
            deliver_policy=policy,
            opt_start_seq=sequence,
            ack_policy=api.AckPolicy.NONE,
            filter_subject=self.topic,
            inactive_threshold=_EPHEMERAL_IDLE_S,
            mem_storage=True,
            num_replicas=1,
        )

    async def open(self, *, resume: bool = False) -> None:
        """Create (or find) the consumer, then start pulling on a fresh inbox."""
        nc = self.connection.nc_required()
        js = self.connection.js_required()
        config = self._config(resume)
        info: api.ConsumerInfo | None = None
        if self.durable is not None:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                info = await js.consumer_info(self.stream, self.durable)
        if info is None:
            try:
                info = await js.add_consumer(self.stream, config)
            except nats.js.errors.BadRequestError:
                if self.durable is None:
                    raise
                # Another member created the group's consumer meanwhile.
                info = await js.consumer_info(self.stream, self.durable)
        self.consumer = info.name
        if self.durable is None and info.delivered is not None:
            self.next_seq = info.delivered.stream_seq + 1
            self.next_dseq = 1
        self.next_subject = f"{_API}.CONSUMER.MSG.NEXT.{self.stream}.{self.consumer}"
        previous = self.inbox
        # A new inbox per consumer, so stragglers of the old one are simply not heard.
        self.inbox = await nc.subscribe(nc.new_inbox(), cb=self._on_msg)
        if previous is not None:
            with contextlib.suppress(*DRIVER_ERRORS):
                await previous.unsubscribe()
        self.pending = 0
        self.last_heard = time.monotonic()
        # From here on deliveries belong to the new consumer: take them.
        self.recovering = False
        await self.top_up()

    async def top_up(self) -> None:
        """Ask for more messages unless enough are in flight or buffered."""
        if self.closed or self.recovering or self.inbox is None:
            return
        if self.subscription._queue.qsize() >= self.subscription._high_water:
            self.starved = True
            self.subscription._starved = True
            return
        self.starved = False
        need = BATCH - self.pending
        if need < BATCH // 2:
            return
        self.pending += need
        if self.durable is None:
            request = b'{"batch":%d,"expires":%d,"idle_heartbeat":%d}' % (
                need,
                int(_EXPIRES_S * 1e9),
                int(HEARTBEAT_S * 1e9),
            )
        else:
            request = b'{"batch":%d,"expires":%d}' % (need, int(_DURABLE_EXPIRES_S * 1e9))
            self.expires_at = time.monotonic() + _DURABLE_EXPIRES_S
        try:
            await self.connection.nc_required().publish(
                self.next_subject, request, reply=self.inbox.subject
            )
        except DRIVER_ERRORS:
            # Disconnected: the reconnect hook or the watchdog asks again.
            self.pending -= need

    async def _on_msg(self, msg: Msg) -> None:
        self.last_heard = time.monotonic()
        if self.recovering:
            # The consumer is being replaced; the new one starts where this stopped.
            return
        if not msg.data and msg.headers and _STATUS in msg.headers:
            await self._on_status(msg.headers)
            return
        self.pending -= 1
        try:
            sequence, dseq, timestamp = ack_fields(msg.reply)
        except (ValueError, IndexError):
            logger.warning("ignoring a message without JetStream metadata on %s", msg.subject)
            return
        if self.durable is None:
            if dseq != self.next_dseq:
                logger.warning("delivery gap on %s, resuming at %d", self.topic, self.next_seq)
                self.begin_recovery()
                return
            self.next_dseq = dseq + 1
            if sequence < self.next_seq:
                return
            self.next_seq = sequence + 1
        else:
            self.unacked.append((sequence, msg.reply))
            if self.closed:
                # Arrived while draining: stop() hands it back with the others.
                return
        key, headers = decode_headers(msg.headers)
        self.subscription._queue.put_nowait(
            Message(
                topic=msg.subject,
                value=msg.data,
                key=key,
                headers=headers,
                offset=sequence,
                partition=0,
                timestamp_ms=timestamp // 1_000_000,
            )
        )
        if self.pending <= BATCH // 2:
            await self.top_up()

    async def _on_status(self, headers: dict[str, str]) -> None:
        status = headers[_STATUS]
        if status == "100":
            return
        if status == "503" or "Consumer Deleted" in headers.get("Description", ""):
            self.begin_recovery()
            return
        if status in ("408", "409"):
            # The request ended; this many of the messages it asked for never came.
            unfilled = headers.get(_PENDING_MSGS)
            self.pending = max(0, self.pending - int(unfilled)) if unfilled else 0
            await self.top_up()
            return
        if status != "404":
            logger.warning("pull on %s answered %s %s", self.topic, status, headers)

    def begin_recovery(self) -> None:
        """Replace the consumer in the background (once, however often it is asked)."""
        if self.recovering or self.closed:
            return
        self.recovering = True
        self.connection.spawn(self._recover())

    async def _recover(self) -> None:
        delay = 0.5
        while not self.closed:
            try:
                # open() clears ``recovering`` once the new consumer is in place.
                await self.open(resume=True)
            except Exception as exc:
                logger.warning("reader on %s cannot resume yet: %r", self.topic, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
            else:
                logger.info("reader on %s resumed at %d", self.topic, self.next_seq)
                return

    async def check(self, now: float) -> None:
        """Watchdog: silence past three heartbeats means the pull was lost; ask again."""
        if self.closed or self.recovering or now - self.last_heard < _STALE_S:
            return
        self.last_heard = now
        self.pending = 0
        await self.top_up()

    async def stop(self) -> None:
        """Stop pulling; hand back uncommitted messages or drop the ephemeral consumer."""
        self.closed = True
        nc = self.connection.nc
        connected = nc is not None and nc.is_connected
        if self.inbox is not None:
            drained = False
            if connected and self.durable is not None:
                # Drain: what the server already sent reaches _on_msg and joins unacked.
                with contextlib.suppress(*DRIVER_ERRORS, TimeoutError):
                    async with asyncio.timeout(self.connection.timeout):
                        await self.inbox.drain()  # type: ignore[no-untyped-call]
                    drained = True
            if not drained:
                with contextlib.suppress(*DRIVER_ERRORS):
                    await self.inbox.unsubscribe()
        if not connected:
            return
        if self.durable is not None and self.unacked:
            # The server may still hold a pull request of the closed inbox, and a nak
            # that meets it first is redelivered out of order: let it expire first.
            await asyncio.sleep(max(0.0, self.expires_at - time.monotonic()) + 0.1)
        if self.durable is not None:
            # Redeliver at once to the next member instead of after ack_wait, in
            # sequence order (the server redelivers in the order it is handed back).
            for _, reply in sorted(self.unacked):
                await self.connection.publish_quietly(reply, NAK)
            self.unacked.clear()
        elif self.consumer:
            await self.connection.publish_quietly(
                f"{_API}.CONSUMER.DELETE.{self.stream}.{self.consumer}", b""
            )
