from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from access_common.backends.memory_bus import MemoryBus
from access_common.context import TraceContext
from access_common.tracing import make_tracer
from access_streaming.bus import TopicReaders
from access_streaming.connections import Connection, Owner
from access_streaming.fanout import Hub
from access_streaming.metrics import StreamingMetrics
from access_streaming.topics import TopicRegistry

REGISTRY = TopicRegistry.from_dict(
    {"topic": [{"name": "prices", "bus": "kafka", "required_role": "r"},
               {"name": "signals", "bus": "nats", "required_role": "r"}]}
)  # fmt: skip


async def test_readers_follow_demand_and_kafka_falls_back_to_the_default_bus() -> None:
    bus = MemoryBus()
    hub = Hub()
    readers = TopicReaders({"nats": bus}, REGISTRY, hub, StreamingMetrics(CollectorRegistry()),
                           linger=0.05)  # fmt: skip
    conn = Connection("websocket", Owner("u", "t", (), 0.0), max_queue=10)
    hub.add(conn, "prices", None)
    await readers.ensure("prices")
    assert readers.consumers("nats") == ["prices"]
    await bus.publish("prices", b'{"a": 1}')
    batch = await asyncio.wait_for(conn.next_batch(), 2)
    assert batch is not None and len(batch) == 1
    hub.remove(conn, "prices")
    readers.release("prices")
    await asyncio.sleep(0.2)
    assert readers.consumers("nats") == []
    await readers.close()


async def test_delivery_span_continues_the_publisher_trace() -> None:
    exporter = InMemorySpanExporter()
    tracer = make_tracer("streaming", "test", "http://unused", exporter=exporter)
    bus = MemoryBus()
    hub = Hub()
    readers = TopicReaders({"nats": bus}, REGISTRY, hub, StreamingMetrics(CollectorRegistry()),
                           tracer=tracer)  # fmt: skip
    conn = Connection("websocket", Owner("u", "t", (), 0.0), max_queue=10)
    hub.add(conn, "signals", None)
    await readers.ensure("signals")
    parent = TraceContext.new()
    await bus.publish("signals", b'{"s": 1}', headers={"traceparent": parent.header()})
    await asyncio.wait_for(conn.next_batch(), 2)
    (span,) = exporter.get_finished_spans()
    assert span.name == "deliver signals"
    assert span.context is not None and f"{span.context.trace_id:032x}" == parent.trace_id
    assert span.parent is not None and f"{span.parent.span_id:016x}" == parent.span_id
    assert span.attributes is not None and span.attributes["access.recipients"] == 1
    await readers.close()
