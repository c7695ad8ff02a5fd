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
  ``subscribe(start=n)`` starts at stream sequence ``n``. ``bounds`` answers the stream's
  oldest sequence and the topic's last sequence + 1 (one partition, 0).
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

Beyond the Bus protocol, for publishers that own their stream layout (the gateway's
webhooks): ``ensure_stream`` puts topics into a named stream with given limits and a
duplicate window (``Nats-Msg-Id`` de-duplication), ``publish_batch`` pipelines several
publishes (all written before any ack is awaited, acks awaited as futures), and
``connected`` answers without I/O.

Connection: connect timeout 2 s, reconnect forever (one attempt a second), so the same
instance recovers when NATS returns; while disconnected ``publish`` waits at most
``timeout`` for the connection to come back, then raises ``BackendError``, and never
leaves a buffered message to be sent later behind the caller's back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import nats.js.errors

from access_common.backends._nats.acks import AckInbox
from access_common.backends._nats.codec import (
    DRIVER_ERRORS,
    KEY_B64_HEADER,
    KEY_HEADER,
    durable_name,
    encode_headers,
    error,
)
from access_common.backends._nats.connection import Connection
from access_common.backends._nats.reader import Reader
from access_common.backends._nats.streams import Streams, ensure_named_stream
from access_common.backends._nats.subscription import NatsSubscription
from access_common.backends.bus import Bounds, StartPosition

__all__ = ["KEY_B64_HEADER", "KEY_HEADER", "NatsBus", "NatsSubscription", "Outgoing"]


def _expire(futures: Sequence[asyncio.Future[int]]) -> None:
    # The batch's deadline passed: every ack still missing fails the batch.
    for future in futures:
        if not future.done():
            future.set_exception(TimeoutError())


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message of :meth:`NatsBus.publish_batch`."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


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
        servers = [server.strip() for server in url.split(",") if server.strip()]
        self._connection = Connection(servers, timeout)
        self._streams = Streams(
            self._connection,
            prefix=stream_prefix,
            max_age=max_age,
            max_bytes=max_bytes,
            replicas=replicas,
        )
        self._ack_wait = ack_wait
        self._acks = AckInbox()

    async def start(self) -> None:
        """Connect; idempotent."""
        await self._connection.start()

    @property
    def connected(self) -> bool:
        """True while the client is connected (no I/O: for fast health answers)."""
        nc = self._connection.nc
        return nc is not None and nc.is_connected

    async def ensure_stream(
        self,
        name: str,
        topics: Sequence[str],
        *,
        max_age: float,
        max_bytes: int,
        duplicate_window: float = 120.0,
    ) -> dict[str, str]:
        """Store ``topics`` in stream ``name`` (created with these limits if absent).

        A topic that another stream already captures stays in it. Returns the stream of
        each topic; later publishes go there.
        """
        await self._connection.ready()
        try:
            streams = await ensure_named_stream(
                self._connection.js_required(),
                name,
                list(dict.fromkeys(topics)),
                max_age=max_age,
                max_bytes=max_bytes,
                duplicate_window=duplicate_window,
                replicas=self._streams.replicas,
            )
        except DRIVER_ERRORS as exc:
            raise error("stream setup", exc) from exc
        for topic, stream in streams.items():
            self._streams.remember(topic, stream)
        return streams

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Publish with a JetStream ack and return the stream sequence."""
        await self._connection.ready()
        if topic not in self._streams:
            await self._streams.stream_for(topic)
        js = self._connection.js_required()
        try:
            ack = await js.publish(
                topic, value, timeout=self._connection.timeout, headers=encode_headers(key, headers)
            )
        except nats.js.errors.NoStreamResponseError:
            # The stream was removed under us: create it again, then retry once.
            self._streams.forget(topic)
            await self._streams.stream_for(topic)
            try:
                ack = await js.publish(
                    topic,
                    value,
                    timeout=self._connection.timeout,
                    headers=encode_headers(key, headers),
                )
            except DRIVER_ERRORS as exc:
                raise error("publish", exc) from exc
        except DRIVER_ERRORS as exc:
            raise error("publish", exc) from exc
        return ack.seq

    async def publish_batch(self, messages: Sequence[Outgoing]) -> list[int]:
        """Publish several messages pipelined; return their sequences once all are acked.

        Every message is written to the connection before any ack is awaited, and the
        acks are awaited as futures on one inbox subscription (no task, no random
        token, no ack object per message): the way to have many publishes in flight
        on one connection. On any failure or after ``timeout`` the whole call raises
        ``BackendError``; messages that did reach the stream are kept (a
        ``Nats-Msg-Id`` header makes a retry of them harmless).
        """
        loop = asyncio.get_running_loop()
        # One deadline for everything: reconnect, stream lookup, writes and acks.
        deadline = loop.time() + self._connection.timeout
        tokens: list[str] = []
        futures: list[asyncio.Future[int]] = []
        expiry = loop.call_at(deadline, _expire, futures)
        try:
            nc = self._connection.nc
            if (
                nc is None
                or not nc.is_connected
                or any(message.topic not in self._streams for message in messages)
            ):
                async with asyncio.timeout_at(deadline):
                    nc = await self._connection.ready()
                    for topic in {message.topic for message in messages}:
                        if topic not in self._streams:
                            await self._streams.stream_for(topic)
            for message in messages:
                token, future = await self._acks.publish(
                    nc, message.topic, message.value, encode_headers(message.key, message.headers)
                )
                tokens.append(token)
                futures.append(future)
            if loop.time() >= deadline:  # expired while writing: later futures are not armed
                raise TimeoutError
            return [await future for future in futures]
        except nats.js.errors.NoStreamResponseError as exc:
            # The stream was removed under us: look it up (or create it) next time.
            for message in messages:
                self._streams.forget(message.topic)
            raise error("publish", exc) from exc
        except DRIVER_ERRORS as exc:
            raise error("publish", exc) from exc
        finally:
            expiry.cancel()
            # Unanswered ones would hold their slot in the inbox's pending map.
            self._acks.forget(tokens)

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
        await self._connection.ready()
        subscription = NatsSubscription(self._connection, group)
        try:
            for topic in dict.fromkeys(topics):
                stream = await self._streams.stream_for(topic)
                durable = durable_name(group, topic) if group is not None else None
                reader = Reader(
                    subscription, topic, stream, durable, start, ack_wait=self._ack_wait
                )
                subscription._readers[topic] = reader
                await reader.open()
                self._connection.readers.add(reader)
        except DRIVER_ERRORS as exc:
            await subscription.close()
            raise error("subscribe", exc) from exc
        except BaseException:
            await subscription.close()
            raise
        self._connection.subscriptions.add(subscription)
        return subscription

    async def bounds(self, topic: str) -> Bounds:
        """The stream's oldest retained sequence and the topic's newest sequence + 1."""
        await self._connection.ready()
        stream = await self._streams.stream_for(topic)
        js = self._connection.js_required()
        try:
            info = await js.stream_info(stream)
            first = int(info.state.first_seq)
            try:
                last = await js.get_last_msg(stream, topic)
                end = int(last.seq or 0) + 1
            except nats.js.errors.NotFoundError:
                end = int(info.state.last_seq) + 1
        except DRIVER_ERRORS as exc:
            raise error("bounds", exc) from exc
        return {0: (min(first, end), end)}

    async def ping(self) -> None:
        """Return when JetStream answers; raise BackendError otherwise."""
        await self._connection.ready()
        try:
            await self._connection.js_required().account_info()
        except DRIVER_ERRORS as exc:
            raise error("ping", exc) from exc

    async def close(self) -> None:
        """Close every subscription and the connection; idempotent."""
        if self._connection.closed:
            return
        self._connection.closed = True
        for subscription in list(self._connection.subscriptions):
            await subscription.close()
        await self._connection.close()
