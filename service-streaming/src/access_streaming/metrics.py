"""The streaming service's Prometheus metrics (seed 003's names plus lag and refusals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["StreamingMetrics"]

_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class StreamingMetrics:
    """Counters and gauges registered on the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.websocket_connections = Counter(
            "websocket_connections_total", "WebSocket connections accepted", registry=registry
        )
        self.sse_connections = Counter(
            "sse_connections_total", "SSE connections accepted", registry=registry
        )
        self.messages_sent = Counter(
            "messages_sent_total",
            "Messages written to subscribers, by protocol",
            ("protocol",),
            registry=registry,
        )
        self.messages_received = Counter(
            "messages_received_total",
            "Client messages received, by protocol and action",
            ("protocol", "action"),
            registry=registry,
        )
        self.subscriptions = Counter(
            "subscriptions_total", "Subscriptions accepted, by topic", ("topic",), registry=registry
        )
        self.active_subscriptions = Gauge(
            "streaming_active_subscriptions",
            "Subscriptions held right now, by topic",
            ("topic",),
            registry=registry,
        )
        self.kafka_consumed = Counter(
            "kafka_messages_consumed_total",
            "Messages read from Kafka, by topic",
            ("topic",),
            registry=registry,
        )
        self.nats_consumed = Counter(
            "nats_messages_consumed_total",
            "Messages read from NATS JetStream (or the in-process bus), by topic",
            ("topic",),
            registry=registry,
        )
        self.active_connections = Gauge(
            "streaming_active_connections",
            "Open subscriber connections, by protocol",
            ("protocol",),
            registry=registry,
        )
        self.send_errors = Counter(
            "streaming_send_errors",
            "Writes to subscribers that failed or were abandoned, by protocol and reason",
            ("protocol", "reason"),
            registry=registry,
        )
        self.refusals = Counter(
            "streaming_refusals_total",
            "Connections and subscriptions refused, by code",
            ("code",),
            registry=registry,
        )
        self.closes = Counter(
            "streaming_closes_total",
            "Connections closed by the server, by close code",
            ("code",),
            registry=registry,
        )
        self.delivery_lag = Histogram(
            "streaming_delivery_lag_seconds",
            "Bus produce time to socket write, by topic (oldest message of each write)",
            ("topic",),
            buckets=_LAG_BUCKETS,
            registry=registry,
        )

        self.overflow = Counter(
            "streaming_delivery_steps_total",
            "Per topic: snapshot messages sent, messages conflated (by max_rate or a full"
            " queue), dropped, gap messages, slow-consumer disconnects",
            ("topic", "step"),
            registry=registry,
        )

    def consumed(self, bus: str, topic: str) -> Counter:
        """The consumed counter child of a topic on a bus."""
        if bus == "kafka":
            return self.kafka_consumed.labels(topic)
        return self.nats_consumed.labels(topic)
