"""The Kafka event bus (aiokafka).

Mapping of the bus model onto Kafka:

* **Topics** are created on first use with ``partitions`` partitions (1 by default)
  and the broker's default replication factor; an existing topic keeps its own.
* **Publish** goes through one idempotent producer per bus (``acks=all``, linger
  2 ms) and returns the record's offset in its partition. The key is the Kafka key
  (same key → same partition → publish order kept); headers are Kafka headers with
  UTF-8 values.
* **Broadcast readers** (``group=None``) use no consumer group: they look up every
  partition of their topics and *assign* them all, so each service instance sees
  every message (a shared group would split the partitions between instances, the
  known trap). ``start`` is applied to every partition: "earliest", "latest", or an
  integer offset that each partition starts from, clamped to what the partition holds
  (exact on a single-partition topic; on several partitions an offset only means
  something for the partition it came from). A reader that falls behind retention
  continues from the oldest record kept. Partitions added to a topic later are not
  picked up by a reader already running.
* **Durable readers** (``group="g"``) join consumer group ``g`` with auto-commit off;
  ``commit(m)`` commits ``m.offset + 1`` for ``m``'s partition. ``start`` applies to
  partitions the group has no committed offset for.
* ``subscribe`` returns only once every assigned partition has a resolved position,
  so a message published right after it returns is received.
* ``bounds`` asks a group-less consumer kept for the purpose (started on first use) for
  each partition's beginning and end offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import ConsumerStoppedError, KafkaError, for_code

from access_common.backends.bus import Bounds, ClosingContext, Message, StartPosition
from access_common.errors import BackendError

__all__ = ["KafkaBus", "KafkaSubscription"]

logger = logging.getLogger("access_common.bus.kafka")

_DETAILS = {"backend": "kafka"}
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_TOPIC_EXISTS = 36
_MAX_RECORDS = 500
# How long one wait for records lasts; close() wakes it at once.
_POLL_MS = 5000

_DRIVER_ERRORS = (KafkaError, OSError, asyncio.TimeoutError)


def _error(action: str, exc: BaseException | None = None) -> BackendError:
    reason = f": {type(exc).__name__}" if exc is not None else ""
    return BackendError(f"Kafka {action} failed{reason}", details=dict(_DETAILS))


def _check_topic(topic: str) -> None:
    if not _TOPIC.fullmatch(topic) or topic in {".", ".."}:
        raise ValueError(f"invalid topic {topic!r}: letters, digits, '.', '_', '-'")


def _message(record: Any) -> Message:
    raw_headers = record.headers
    headers = (
        {name: (value or b"").decode("utf-8", "replace") for name, value in raw_headers}
        if raw_headers
        else {}
    )
    return Message(
        topic=record.topic,
        value=record.value if record.value is not None else b"",
        key=record.key,
        headers=headers,
        offset=record.offset,
        partition=record.partition,
        timestamp_ms=record.timestamp,
    )


class _Positioner(ConsumerRebalanceListener):  # type: ignore[misc]
    """Applies an integer ``start`` to partitions a group gets without a committed offset."""

    def __init__(self, subscription: KafkaSubscription, start: StartPosition) -> None:
        self.subscription = subscription
        self.start = start
        self.assigned = asyncio.Event()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        """Nothing to flush: commits are explicit."""

    async def on_partitions_assigned(self, assigned: Any) -> None:
        """Seek partitions without a group position, then let subscribe() return."""
        try:
            if isinstance(self.start, int) and assigned:
                consumer = self.subscription._consumer
                for tp in assigned:
                    if await consumer.committed(tp) is None:
                        await self.subscription._seek_clamped([tp], self.start)
        finally:
            self.assigned.set()


class KafkaSubscription(ClosingContext):
    """Records of one or more topics, from assigned partitions or a consumer group."""

    def __init__(self, bus: KafkaBus, consumer: AIOKafkaConsumer, group: str | None) -> None:
        self._bus = bus
        self._consumer = consumer
        self._group = group
        self._buffer: deque[Any] = deque()
        self._closed = False

    async def _seek_clamped(self, tps: list[TopicPartition], offset: int) -> None:
        consumer = self._consumer
        first = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, min(max(offset, first[tp]), end[tp]))

    async def _position(self, tps: Sequence[TopicPartition], start: StartPosition) -> None:
        consumer = self._consumer
        if start == "earliest":
            await consumer.seek_to_beginning(*tps)
        elif start == "latest":
            await consumer.seek_to_end(*tps)
        else:
            await self._seek_clamped(list(tps), int(start))

    def __aiter__(self) -> KafkaSubscription:
        """Iterate messages as they arrive (blocks until the next one)."""
        return self

    async def __anext__(self) -> Message:
        """The next record of any assigned partition; stops once closed."""
        buffer = self._buffer
        while not self._closed:
            if buffer:
                return _message(buffer.popleft())
            try:
                batches = await self._consumer.getmany(
                    timeout_ms=_POLL_MS, max_records=_MAX_RECORDS
                )
            except ConsumerStoppedError:
                break
            except _DRIVER_ERRORS as exc:
                raise _error("fetch", exc) from exc
            for records in batches.values():
                buffer.extend(records)
        raise StopAsyncIteration

    async def commit(self, message: Message) -> None:
        """Commit the group's position after ``message`` (no-op without a group)."""
        if self._group is None:
            return
        tp = TopicPartition(message.topic, message.partition)
        try:
            async with asyncio.timeout(self._bus._timeout):
                await self._consumer.commit({tp: message.offset + 1})
        except _DRIVER_ERRORS as exc:
            raise _error("commit", exc) from exc

    async def close(self) -> None:
        """Stop receiving (a group member leaves its group); idempotent."""
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        self._bus._subscriptions.discard(self)
        try:
            await self._consumer.stop()
        except _DRIVER_ERRORS as exc:
            logger.warning("kafka consumer did not stop cleanly: %r", exc)


class KafkaBus:
    """The event bus on Kafka."""

    name = "kafka"

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "access",
        partitions: int = 1,
        timeout: float = 10.0,
        join_timeout: float = 30.0,
        linger_ms: int = 2,
    ) -> None:
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        self._bootstrap = [server.strip() for server in bootstrap.split(",") if server.strip()]
        self._client_id = client_id
        self._partitions = partitions
        self._timeout = timeout
        self._join_timeout = join_timeout
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._start_lock = asyncio.Lock()
        self._topics: set[str] = set()
        self._subscriptions: set[KafkaSubscription] = set()
        self._meta: AIOKafkaConsumer | None = None
        self._closed = False

    def _started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connect the producer and the admin client; idempotent."""
        if self._closed:
            raise _error("use after close")
        if self._started():
            return
        async with self._start_lock:
            if self._started():
                return
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id=self._client_id,
                acks="all",
                enable_idempotence=True,
                linger_ms=self._linger_ms,
                request_timeout_ms=int(self._timeout * 1000),
            )
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._bootstrap,
                client_id=f"{self._client_id}-admin",
                request_timeout_ms=int(self._timeout * 1000),
            )
            try:
                async with asyncio.timeout(self._timeout):
                    await producer.start()
                    await admin.start()
            except _DRIVER_ERRORS as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                with contextlib.suppress(Exception):
                    await admin.close()
                raise _error("connect", exc) from exc
            self._admin = admin
            self._producer = producer

    async def _clients(self) -> tuple[AIOKafkaProducer, AIOKafkaAdminClient]:
        if self._closed:
            raise _error("use after close")
        if self._producer is None or self._admin is None:
            await self.start()
        if self._producer is None or self._admin is None:
            raise _error("connect")
        return self._producer, self._admin

    async def _ensure_topics(self, topics: Sequence[str]) -> dict[str, list[int]]:
        """Create missing topics; return each topic's partitions once all have leaders."""
        _, admin = await self._clients()
        missing = [topic for topic in topics if topic not in self._topics]
        for topic in missing:
            _check_topic(topic)
        try:
            async with asyncio.timeout(self._timeout):
                if missing:
                    # -1 = the broker's default.replication.factor; aiokafka wants an
                    # (empty) explicit assignment alongside it.
                    response = await admin.create_topics(
                        [NewTopic(t, self._partitions, -1, replica_assignments={}) for t in missing]
                    )
                    for topic, code, *_ in response.topic_errors:
                        if code not in (0, _TOPIC_EXISTS):
                            raise for_code(code)(f"create topic {topic}")
                while True:
                    described = await admin.describe_topics(list(topics))
                    partitions = {
                        entry["topic"]: sorted(p["partition"] for p in entry["partitions"])
                        for entry in described
                        if entry["error_code"] == 0
                        and entry["partitions"]
                        and all(p["leader"] >= 0 for p in entry["partitions"])
                    }
                    if len(partitions) == len(set(topics)):
                        break
                    # A topic just created takes a moment to get leaders.
                    await asyncio.sleep(0.05)
        except _DRIVER_ERRORS as exc:
            raise _error("topic setup", exc) from exc
        self._topics.update(topics)
        return partitions

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Publish with acks=all and return the record's offset in its partition."""
        producer, _ = await self._clients()
        if topic not in self._topics:
            await self._ensure_topics([topic])
        kafka_headers = (
            [(name, text.encode()) for name, text in headers.items()] if headers else None
        )
        try:
            async with asyncio.timeout(self._timeout):
                metadata = await producer.send_and_wait(
                    topic, value, key=key, headers=kafka_headers
                )
        except _DRIVER_ERRORS as exc:
            raise _error("publish", exc) from exc
        offset: int = metadata.offset
        return offset

    async def subscribe(
        self,
        topics: Sequence[str],
        *,
        group: str | None = None,
        start: StartPosition = "latest",
    ) -> KafkaSubscription:
        """Start reading; returns once every partition's position is resolved."""
        if isinstance(topics, str):
            raise TypeError("topics must be a sequence of topic names, not a string")
        if not topics:
            raise ValueError("subscribe needs at least one topic")
        if isinstance(start, int) and start < 0:
            raise ValueError("start offset must not be negative")
        unique = list(dict.fromkeys(topics))
        partitions = await self._ensure_topics(unique)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=group,
            enable_auto_commit=False,
            # Broadcast readers that fall behind retention continue from the oldest record.
            auto_offset_reset="latest" if group is not None and start == "latest" else "earliest",
            request_timeout_ms=int(self._timeout * 1000),
        )
        subscription = KafkaSubscription(self, consumer, group)
        try:
            if group is None:
                tps = [TopicPartition(t, p) for t in unique for p in partitions[t]]
                consumer.assign(tps)
                async with asyncio.timeout(self._timeout):
                    await consumer.start()
                    await subscription._position(tps, start)
                    for tp in tps:
                        await consumer.position(tp)
            else:
                positioner = _Positioner(subscription, start)
                consumer.subscribe(unique, listener=positioner)
                async with asyncio.timeout(self._join_timeout):
                    await consumer.start()
                    await positioner.assigned.wait()
                    for tp in consumer.assignment():
                        await consumer.position(tp)
        except BaseException as exc:
            await subscription.close()
            if isinstance(exc, _DRIVER_ERRORS):
                raise _error("subscribe", exc) from exc
            raise
        self._subscriptions.add(subscription)
        return subscription

    async def bounds(self, topic: str) -> Bounds:
        """Each partition's beginning (oldest retained) and end offsets."""
        partitions = await self._ensure_topics([topic])
        tps = [TopicPartition(topic, p) for p in partitions[topic]]
        try:
            async with asyncio.timeout(self._timeout):
                if self._meta is None:
                    meta = AIOKafkaConsumer(
                        bootstrap_servers=self._bootstrap,
                        client_id=f"{self._client_id}-bounds",
                        enable_auto_commit=False,
                        request_timeout_ms=int(self._timeout * 1000),
                    )
                    await meta.start()
                    self._meta = meta
                first = await self._meta.beginning_offsets(tps)
                end = await self._meta.end_offsets(tps)
        except _DRIVER_ERRORS as exc:
            raise _error("bounds", exc) from exc
        return {tp.partition: (first[tp], end[tp]) for tp in tps}

    async def ping(self) -> None:
        """Return when the cluster answers a metadata request; raise BackendError otherwise."""
        _, admin = await self._clients()
        try:
            async with asyncio.timeout(self._timeout):
                await admin.describe_topics([])
        except _DRIVER_ERRORS as exc:
            raise _error("ping", exc) from exc

    async def close(self) -> None:
        """Close every subscription, the producer and the admin client; idempotent."""
        if self._closed:
            return
        self._closed = True
        for subscription in list(self._subscriptions):
            await subscription.close()
        if self._meta is not None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._meta.stop()
        if self._producer is not None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._producer.stop()
        if self._admin is not None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._admin.close()
