"""The NATS JetStream event bus (nats-py), with its own pull-consumer loop.

Mapping of the bus model onto JetStream:

* **Topic = subject.** ``signals.raw`` is published on subject ``signals.raw``. It is
  stored by whichever stream already captures that subject (an operator's own stream,
  e.g. ``trading-events``, is used as is); otherwise the bus creates one stream per
  first token: ``signals.raw`` → stream ``<prefix>_SIGNALS`` with subjects
  ``signals`` and ``signals.>``, file storage, limits retention, ``max_age`` 7 days and
  ``max_bytes`` 1 GiB (whichever comes first drops the oldest messages; both are
  constructor arguments). One partition per topic: ``Message.partition`` is 0.
* **Offset = stream sequence.** ``publish`` waits for the JetStream ack and returns the
  sequence; a stream holds several topics, so one topic's offsets grow but skip.
  ``subscribe(start=n)`` starts at stream sequence ``n``.
* **Key** travels in the ``Access-Key`` header when it is UTF-8 text that survives a
  NATS header (no CR/LF, no surrounding whitespace), otherwise base64 in
  ``Access-Key-B64``; subscribers never see either header (both names are reserved).
  Headers are NATS headers: values round-trip as UTF-8 text but lose surrounding
  whitespace and line breaks.
* **Broadcast readers** (``group=None``) are ephemeral pull consumers (memory storage,
  no acks, removed by the server 60 s after their reader goes away). The reader tracks
  the last stream sequence it delivered; when the consumer is lost (server restart,
  inactivity, a delivery gap) it creates a new one from the next sequence, so a
  reader survives a NATS outage without duplicates or gaps (unless retention dropped
  the messages meanwhile).
* **Durable readers** (``group="g"``) share one durable pull consumer per (group,
  topic), named ``<group>-<topic>-<hash>``, with explicit acks: members of a group
  share the work. ``commit(m)`` acks every message this subscription received up to
  ``m`` (the last one synchronously); ``close`` naks what was received but not
  committed, in order, so the next member gets it at once (this makes such a close take
  up to a second: it first lets its last pull request expire, else the server would
  redeliver out of order). Delivery is at-least-once: a message left uncommitted for
  ``ack_wait`` (30 s) is delivered again, and a NATS crash may forget the latest acks.
  A group unused for 7 days is forgotten by the server (like Kafka's offset retention).

Connection: connect timeout 2 s, reconnect forever (one attempt a second), so the same
instance recovers when NATS returns; while disconnected ``publish`` waits at most
``timeout`` for the connection to come back, then raises ``BackendError``, and never
leaves a buffered message to be sent later behind the caller's back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
import re
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as CoreSubscription
from nats.js import JetStreamContext, api

from access_common.backends.bus import ClosingContext, Message, StartPosition
from access_common.errors import BackendError

__all__ = ["KEY_B64_HEADER", "KEY_HEADER", "NatsBus", "NatsSubscription"]

logger = logging.getLogger("access_common.bus.nats")

KEY_HEADER = "Access-Key"
KEY_B64_HEADER = "Access-Key-B64"

_DETAILS = {"backend": "nats"}
_API = "$JS.API"
_STATUS = "Status"
_PENDING_MSGS = "Nats-Pending-Messages"
_ACK = b"+ACK"
_NAK = b"-NAK"
_INVALID_NAME = re.compile(r"[^A-Za-z0-9_-]")
_INVALID_TOPIC = re.compile(r"[\s*>]")

# Pull requests: up to _BATCH messages in flight per reader, each request lives 30 s
# and the server sends a heartbeat every 5 s while it waits; a reader that hears
# nothing for three heartbeats asks again (and learns whether its consumer is gone).
_BATCH = 256
_EXPIRES_S = 30.0
_HEARTBEAT_S = 5.0
_STALE_S = 3 * _HEARTBEAT_S
# Durable readers ask in short requests so close() can let the last one expire before it
# naks uncommitted messages (see _Reader.stop).
_DURABLE_EXPIRES_S = 1.0
_EPHEMERAL_IDLE_S = 60.0
_DURABLE_IDLE_S = 7 * 24 * 3600.0
_RETRY_MAX_S = 10.0

_DRIVER_ERRORS = (nats.errors.Error, OSError, asyncio.TimeoutError)


def _error(action: str, exc: BaseException | None = None) -> BackendError:
    reason = f": {type(exc).__name__}" if exc is not None else ""
    return BackendError(f"NATS {action} failed{reason}", details=dict(_DETAILS))


def _check_topic(topic: str) -> None:
    if not topic or _INVALID_TOPIC.search(topic) or "" in topic.split("."):
        raise ValueError(f"invalid topic {topic!r}: dot-separated tokens, no wildcards")


def _durable_name(group: str, topic: str) -> str:
    digest = hashlib.blake2b(f"{group}\0{topic}".encode(), digest_size=4).hexdigest()
    safe_group = _INVALID_NAME.sub("_", group)[:100]
    safe_topic = _INVALID_NAME.sub("_", topic)[:100]
    return f"{safe_group}-{safe_topic}-{digest}"


def _ack_fields(reply: str) -> tuple[int, int, int]:
    """(stream sequence, consumer sequence, timestamp ns) from a JetStream reply subject."""
    tokens = reply.split(".")
    # v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
    # v2: $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>...
    first = 5 if len(tokens) == 9 else 7
    return int(tokens[first]), int(tokens[first + 1]), int(tokens[first + 2])


def _encode_headers(key: bytes | None, headers: Mapping[str, str] | None) -> dict[str, str] | None:
    if key is None:
        return dict(headers) if headers else None
    out = dict(headers) if headers else {}
    try:
        text = key.decode()
    except UnicodeDecodeError:
        text = None
    if text is not None and text == text.strip() and "\r" not in text and "\n" not in text:
        out[KEY_HEADER] = text
    else:
        out[KEY_B64_HEADER] = base64.b64encode(key).decode("ascii")
    return out


def _decode_headers(raw: dict[str, str] | None) -> tuple[bytes | None, dict[str, str]]:
    if not raw:
        return None, {}
    if KEY_HEADER not in raw and KEY_B64_HEADER not in raw:
        return None, raw
    headers = dict(raw)
    text = headers.pop(KEY_HEADER, None)
    encoded = headers.pop(KEY_B64_HEADER, None)
    if encoded is not None:
        try:
            return base64.b64decode(encoded, validate=True), headers
        except (binascii.Error, ValueError):
            logger.warning("dropping an undecodable %s header", KEY_B64_HEADER)
            return None, headers
    return (text.encode() if text is not None else None), headers


class _Reader:
    """One topic of a subscription: a pull consumer and the requests that feed it."""

    def __init__(
        self,
        subscription: NatsSubscription,
        topic: str,
        stream: str,
        durable: str | None,
        start: StartPosition,
    ) -> None:
        self.subscription = subscription
        self.bus = subscription._bus
        self.topic = topic
        self.stream = stream
        self.durable = durable
        self.start = start
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
                ack_wait=self.bus._ack_wait,
                filter_subject=self.topic,
                inactive_threshold=_DURABLE_IDLE_S,
            )
        return api.ConsumerConfig(
            name=self.bus._nc_required().new_inbox().rsplit(".", 1)[-1],
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
        nc = self.bus._nc_required()
        js = self.bus._js_required()
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
            with contextlib.suppress(*_DRIVER_ERRORS):
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
        need = _BATCH - self.pending
        if need < _BATCH // 2:
            return
        self.pending += need
        if self.durable is None:
            request = b'{"batch":%d,"expires":%d,"idle_heartbeat":%d}' % (
                need,
                int(_EXPIRES_S * 1e9),
                int(_HEARTBEAT_S * 1e9),
            )
        else:
            request = b'{"batch":%d,"expires":%d}' % (need, int(_DURABLE_EXPIRES_S * 1e9))
            self.expires_at = time.monotonic() + _DURABLE_EXPIRES_S
        try:
            await self.bus._nc_required().publish(
                self.next_subject, request, reply=self.inbox.subject
            )
        except _DRIVER_ERRORS:
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
            sequence, dseq, timestamp = _ack_fields(msg.reply)
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
        key, headers = _decode_headers(msg.headers)
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
        if self.pending <= _BATCH // 2:
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
        self.bus._spawn(self._recover())

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
        nc = self.bus._nc
        connected = nc is not None and nc.is_connected
        if self.inbox is not None:
            drained = False
            if connected and self.durable is not None:
                # Drain: what the server already sent reaches _on_msg and joins unacked.
                with contextlib.suppress(*_DRIVER_ERRORS, TimeoutError):
                    async with asyncio.timeout(self.bus._timeout):
                        await self.inbox.drain()  # type: ignore[no-untyped-call]
                    drained = True
            if not drained:
                with contextlib.suppress(*_DRIVER_ERRORS):
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
                await self.bus._publish_quietly(reply, _NAK)
            self.unacked.clear()
        elif self.consumer:
            await self.bus._publish_quietly(
                f"{_API}.CONSUMER.DELETE.{self.stream}.{self.consumer}", b""
            )


_CLOSED = object()


class NatsSubscription(ClosingContext):
    """Messages of one or more topics, merged in arrival order."""

    def __init__(self, bus: NatsBus, group: str | None) -> None:
        self._bus = bus
        self._group = group
        self._readers: dict[str, _Reader] = {}
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._high_water = 2 * _BATCH
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
        if self._starved and self._queue.qsize() <= _BATCH // 2:
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
                await self._bus._publish_quietly(last, _ACK)
            last = unacked.popleft()[1]
        if last is None:
            return
        try:
            # Acks before it were sent on the same connection, so this reply covers them.
            await self._bus._nc_required().request(last, _ACK, timeout=self._bus._timeout)
        except _DRIVER_ERRORS as exc:
            raise _error("commit", exc) from exc

    async def close(self) -> None:
        """Stop receiving; idempotent."""
        if self._closed:
            return
        self._closed = True
        # Wake a pending __anext__ now; handing messages back below may take a second.
        self._queue.put_nowait(_CLOSED)
        self._bus._subscriptions.discard(self)
        for reader in self._readers.values():
            self._bus._readers.discard(reader)
        await asyncio.gather(*(reader.stop() for reader in self._readers.values()))
        nc = self._bus._nc
        if nc is not None and nc.is_connected:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await nc.flush(timeout=1)


class NatsBus:
    """The event bus on NATS JetStream."""

    name = "nats"

    def __init__(
        self,
        url: str,
        *,
        stream_prefix: str = "ACCESS",
        timeout: float = 5.0,
        max_age: float = 7 * 24 * 3600.0,
        max_bytes: int = 1 << 30,
        replicas: int = 1,
        ack_wait: float = 30.0,
    ) -> None:
        self._servers = [server.strip() for server in url.split(",") if server.strip()]
        self._prefix = _INVALID_NAME.sub("_", stream_prefix)
        self._timeout = timeout
        self._max_age = max_age
        self._max_bytes = max_bytes
        self._replicas = replicas
        self._ack_wait = ack_wait
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._connect_lock = asyncio.Lock()
        self._connected = asyncio.Event()
        self._streams: dict[str, str] = {}
        self._subscriptions: set[NatsSubscription] = set()
        self._readers: set[_Reader] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._outage = False
        self._closed = False

    # -- connection -------------------------------------------------------------

    def _started(self) -> bool:
        return self._nc is not None

    def _nc_required(self) -> Client:
        if self._nc is None:
            raise _error("use before start")
        return self._nc

    def _js_required(self) -> JetStreamContext:
        if self._js is None:
            raise _error("use before start")
        return self._js

    async def _on_error(self, exc: Exception) -> None:
        # Reconnect attempts fail once a second during an outage: say it once.
        if self._outage:
            logger.debug("nats error: %r", exc)
        else:
            logger.warning("nats error: %r", exc)

    async def _on_disconnected(self) -> None:
        self._connected.clear()
        if not self._closed and not self._outage:
            self._outage = True
            logger.warning("nats disconnected; reconnecting")

    async def _on_reconnected(self) -> None:
        self._outage = False
        self._connected.set()
        logger.info("nats reconnected")
        for reader in list(self._readers):
            reader.pending = 0
            await reader.top_up()

    async def start(self) -> None:
        """Connect; idempotent."""
        if self._closed:
            raise _error("use after close")
        if self._started():
            return
        async with self._connect_lock:
            if self._started():
                return
            nc = Client()
            # Attempts of the first connect fail loudly enough through BackendError.
            self._outage = True
            try:
                # The client would retry forever on its own; the first connect is bounded.
                async with asyncio.timeout(max(self._timeout, 2.5)):
                    await nc.connect(
                        servers=self._servers,
                        name="access-bus",
                        connect_timeout=2,
                        allow_reconnect=True,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=1,
                        ping_interval=10,
                        max_outstanding_pings=3,
                        error_cb=self._on_error,
                        disconnected_cb=self._on_disconnected,
                        reconnected_cb=self._on_reconnected,
                    )
            except (*_DRIVER_ERRORS, nats.errors.NoServersError) as exc:
                with contextlib.suppress(Exception):
                    await nc.close()
                raise _error("connect", exc) from exc
            self._js = nc.jetstream(timeout=self._timeout)
            self._nc = nc
            self._outage = False
            self._connected.set()
            self._watchdog = asyncio.create_task(self._watch())

    async def _ready(self) -> Client:
        nc = self._nc
        if nc is None:
            await self.start()
            nc = self._nc_required()
        if not nc.is_connected:
            if nc.is_closed or self._closed:
                raise _error("use after close")
            try:
                async with asyncio.timeout(self._timeout):
                    await self._connected.wait()
            except TimeoutError as exc:
                raise _error("reconnect", exc) from exc
        return nc

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(_HEARTBEAT_S)
            now = time.monotonic()
            for reader in list(self._readers):
                try:
                    await reader.check(now)
                except Exception:
                    logger.exception("bus watchdog failed on %s", reader.topic)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_quietly(self, subject: str, payload: bytes) -> None:
        if self._nc is not None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._nc.publish(subject, payload)

    # -- streams ----------------------------------------------------------------

    async def _stream_for(self, topic: str) -> str:
        stream = self._streams.get(topic)
        if stream is not None:
            return stream
        _check_topic(topic)
        js = self._js_required()
        try:
            try:
                stream = await js.find_stream_name_by_subject(topic)
            except nats.js.errors.NotFoundError:
                stream = await self._create_stream(js, topic)
        except _DRIVER_ERRORS as exc:
            raise _error("stream lookup", exc) from exc
        self._streams[topic] = stream
        return stream

    async def _create_stream(self, js: JetStreamContext, topic: str) -> str:
        first = topic.split(".", 1)[0]
        name = f"{self._prefix}_{_INVALID_NAME.sub('_', first).upper()}"
        subjects = [first, f"{first}.>"]
        try:
            await js.add_stream(
                name=name,
                subjects=subjects,
                storage=api.StorageType.FILE,
                retention=api.RetentionPolicy.LIMITS,
                discard=api.DiscardPolicy.OLD,
                max_age=self._max_age,
                max_bytes=self._max_bytes,
                num_replicas=self._replicas,
            )
        except nats.js.errors.BadRequestError:
            # A concurrent creator won, or the name is taken by first tokens that differ
            # only in case: look again, then widen the named stream's subjects.
            with contextlib.suppress(nats.js.errors.NotFoundError):
                return await js.find_stream_name_by_subject(topic)
            info = await js.stream_info(name)
            config = info.config
            config.subjects = sorted({*(config.subjects or []), *subjects})
            await js.update_stream(config)
        logger.info("created stream %s for %s", name, topic)
        return name

    # -- bus --------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Publish with a JetStream ack and return the stream sequence."""
        await self._ready()
        if topic not in self._streams:
            await self._stream_for(topic)
        js = self._js_required()
        try:
            ack = await js.publish(
                topic, value, timeout=self._timeout, headers=_encode_headers(key, headers)
            )
        except nats.js.errors.NoStreamResponseError:
            # The stream was removed under us: create it again, then retry once.
            self._streams.pop(topic, None)
            await self._stream_for(topic)
            try:
                ack = await js.publish(
                    topic, value, timeout=self._timeout, headers=_encode_headers(key, headers)
                )
            except _DRIVER_ERRORS as exc:
                raise _error("publish", exc) from exc
        except _DRIVER_ERRORS as exc:
            raise _error("publish", exc) from exc
        return ack.seq

    async def subscribe(
        self,
        topics: Sequence[str],
        *,
        group: str | None = None,
        start: StartPosition = "latest",
    ) -> NatsSubscription:
        """Create the consumers; returns once each one is positioned and pulling."""
        if isinstance(topics, str):
            raise TypeError("topics must be a sequence of topic names, not a string")
        if not topics:
            raise ValueError("subscribe needs at least one topic")
        if isinstance(start, int) and start < 0:
            raise ValueError("start offset must not be negative")
        await self._ready()
        subscription = NatsSubscription(self, group)
        try:
            for topic in dict.fromkeys(topics):
                stream = await self._stream_for(topic)
                durable = _durable_name(group, topic) if group is not None else None
                reader = _Reader(subscription, topic, stream, durable, start)
                subscription._readers[topic] = reader
                await reader.open()
                self._readers.add(reader)
        except _DRIVER_ERRORS as exc:
            await subscription.close()
            raise _error("subscribe", exc) from exc
        except BaseException:
            await subscription.close()
            raise
        self._subscriptions.add(subscription)
        return subscription

    async def ping(self) -> None:
        """Return when JetStream answers; raise BackendError otherwise."""
        await self._ready()
        try:
            await self._js_required().account_info()
        except _DRIVER_ERRORS as exc:
            raise _error("ping", exc) from exc

    async def close(self) -> None:
        """Close every subscription and the connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        for subscription in list(self._subscriptions):
            await subscription.close()
        tasks = [*self._tasks, *([self._watchdog] if self._watchdog else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
