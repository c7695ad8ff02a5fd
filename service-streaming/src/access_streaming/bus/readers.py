"""Demand-driven broadcast readers: a topic is read only while someone subscribes to it.

Each reader is a *broadcast* subscription (``group=None``): on Kafka it is assigned every
partition of the topic, on NATS JetStream it is an ephemeral consumer, so every
instance sees every message (a shared consumer group would split partitions between
instances and their clients would silently miss messages). :meth:`TopicReaders.ensure`
returns once the reader is positioned, so a message published after a subscription is
acknowledged reaches the subscriber. When the bus is down the subscription is still
accepted; the reader keeps retrying in the background and health reports the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from opentelemetry import trace

from access_common.backends.bus import Bus, Message, StartPosition, Subscription
from access_common.context import TRACEPARENT_HEADER, parse_traceparent
from access_common.errors import AccessError
from access_common.tracing import remote_parent
from access_streaming.fanout.hub import Hub
from access_streaming.metrics import StreamingMetrics
from access_streaming.topics import BusName, TopicRegistry

__all__ = ["BusStats", "TopicReaders"]

logger = logging.getLogger("access_streaming.bus")

# A topic left without subscribers keeps its reader this long, so a client that
# reconnects at once does not pay for a new consumer.
_LINGER_SECONDS = 5.0
_RETRY_MAX_SECONDS = 10.0


@dataclass(slots=True)
class BusStats:
    """Per-bus counters for /stats."""

    messages_consumed: int = 0
    topics: set[str] = field(default_factory=set)


class _Reader:
    def __init__(self, topic: str, bus: Bus, bus_name: BusName) -> None:
        self.topic = topic
        self.bus = bus
        self.bus_name = bus_name
        self.subscription: Subscription | None = None
        self.task: asyncio.Task[None] | None = None
        self.positioned = asyncio.Event()
        self.linger: asyncio.TimerHandle | None = None


class TopicReaders:
    """Start a topic's reader on its first subscriber, stop it after its last."""

    def __init__(
        self,
        buses: Mapping[BusName, Bus],
        registry: TopicRegistry,
        hub: Hub,
        metrics: StreamingMetrics,
        *,
        tracer: trace.Tracer | None = None,
        open_timeout: float = 10.0,
        linger: float = _LINGER_SECONDS,
    ) -> None:
        self._buses = buses
        self._registry = registry
        self._hub = hub
        self._metrics = metrics
        self._tracer = tracer
        self._open_timeout = open_timeout
        self._linger = linger
        self._readers: dict[str, _Reader] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.stats: dict[BusName, BusStats] = {"kafka": BusStats(), "nats": BusStats()}
        self._closed = False

    def bus_for(self, topic: str) -> tuple[Bus, BusName]:
        """The bus a registered topic is read from (Kafka falls back to the default bus)."""
        name: BusName = self._registry.get(topic).bus
        bus = self._buses.get(name)
        if bus is None:
            name = "nats"
            bus = self._buses[name]
        return bus, name

    def consumers(self, bus_name: BusName) -> list[str]:
        """Topics with a running reader on that bus."""
        return sorted(t for t, r in self._readers.items() if r.bus_name == bus_name)

    async def ensure(self, topic: str) -> None:
        """Make sure the topic is read; wait (bounded) until the reader is positioned."""
        if self._closed:
            return
        reader = self._readers.get(topic)
        if reader is None:
            lock = self._locks.setdefault(topic, asyncio.Lock())
            async with lock:
                reader = self._readers.get(topic)
                if reader is None:
                    bus, name = self.bus_for(topic)
                    reader = self._readers[topic] = _Reader(topic, bus, name)
                    reader.task = asyncio.create_task(self._run(reader), name=f"read {topic}")
        if reader.linger is not None:
            reader.linger.cancel()
            reader.linger = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._open_timeout):
                await reader.positioned.wait()

    def release(self, topic: str) -> None:
        """The topic lost its last subscriber: stop its reader after a short linger."""
        reader = self._readers.get(topic)
        if reader is None or reader.linger is not None:
            return
        loop = asyncio.get_running_loop()
        reader.linger = loop.call_later(self._linger, self._stop_if_unused, topic)

    def _stop_if_unused(self, topic: str) -> None:
        reader = self._readers.get(topic)
        if reader is None:
            return
        reader.linger = None
        if self._hub.has_subscribers(topic):
            return
        del self._readers[topic]
        if reader.task is not None:
            reader.task.cancel()

    async def _run(self, reader: _Reader) -> None:
        delay = 0.5
        stats = self.stats[reader.bus_name]
        stats.topics.add(reader.topic)
        try:
            while not self._closed:
                try:
                    warm = await self._warm_bounds(reader)
                    start: StartPosition = "latest"
                    if warm:
                        start = min(first for first, _ in warm.values())
                    reader.subscription = await reader.bus.subscribe([reader.topic], start=start)
                except AccessError as exc:
                    logger.warning(
                        "cannot read %s yet: %s", reader.topic, exc.code, extra={"code": exc.code}
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _RETRY_MAX_SECONDS)
                    continue
                delay = 0.5
                if not warm:
                    reader.positioned.set()
                try:
                    await self._pump(reader, stats, warm)
                except AccessError as exc:
                    logger.warning(
                        "reader of %s failed: %s; reopening",
                        reader.topic,
                        exc.code,
                        extra={"code": exc.code},
                    )
                finally:
                    subscription, reader.subscription = reader.subscription, None
                    if subscription is not None:
                        await subscription.close()
        finally:
            stats.topics.discard(reader.topic)

    async def _warm_bounds(self, reader: _Reader) -> dict[int, tuple[int, int]]:
        """For a snapshot topic: per partition, the offsets to read back before going live."""
        depth = self._registry.get(reader.topic).snapshot_depth
        if not self._hub.keeps_snapshot(reader.topic) or depth == 0:
            return {}
        bounds = await reader.bus.bounds(reader.topic)
        return {
            partition: (max(first, end - depth), end)
            for partition, (first, end) in bounds.items()
            if end > max(first, end - depth)
        }

    async def _pump(
        self, reader: _Reader, stats: BusStats, warm: dict[int, tuple[int, int]]
    ) -> None:
        subscription = reader.subscription
        if subscription is None:
            return
        consumed = self._metrics.consumed(reader.bus_name, reader.topic)
        dispatch = self._hub.dispatch
        tracer = self._tracer
        if warm:
            # Fill the snapshot from the log (nobody is sent these), then go live.
            remember = self._hub.frame
            pending = dict(warm)
            async for message in subscription:
                stats.messages_consumed += 1
                consumed.inc()
                span = pending.get(message.partition)
                if span is None:
                    dispatch(message)
                elif message.offset >= span[0]:
                    if message.offset < span[1]:
                        remember(message)
                    else:
                        dispatch(message)
                    if message.offset >= span[1] - 1:
                        del pending[message.partition]
                if not pending:
                    break
            reader.positioned.set()
        async for message in subscription:
            stats.messages_consumed += 1
            consumed.inc()
            if tracer is None:
                dispatch(message)
            else:
                self._traced_dispatch(tracer, message)

    def _traced_dispatch(self, tracer: trace.Tracer, message: Message) -> int:
        """Dispatch inside a span that continues the publisher's trace (traceparent header)."""
        parent = parse_traceparent(message.headers.get(TRACEPARENT_HEADER))
        context = remote_parent(parent) if parent is not None else None
        with tracer.start_as_current_span(
            f"deliver {message.topic}", context=context, kind=trace.SpanKind.CONSUMER
        ) as span:
            delivered = self._hub.dispatch(message)
            span.set_attribute("messaging.destination.name", message.topic)
            span.set_attribute("messaging.kafka.partition", message.partition)
            span.set_attribute("messaging.message.offset", message.offset)
            span.set_attribute("access.recipients", delivered)
            lag_ms = max(0, time.time_ns() // 1_000_000 - message.timestamp_ms)
            span.set_attribute("access.lag_ms", lag_ms)
        return delivered

    async def close(self) -> None:
        """Stop every reader; idempotent."""
        self._closed = True
        readers = list(self._readers.values())
        self._readers.clear()
        for reader in readers:
            if reader.linger is not None:
                reader.linger.cancel()
            if reader.task is not None:
                reader.task.cancel()
        await asyncio.gather(
            *(r.task for r in readers if r.task is not None), return_exceptions=True
        )
