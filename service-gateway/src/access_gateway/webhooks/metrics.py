"""Seed 004's webhook metrics, with its names and labels, on the app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["WebhookMetrics", "status_class"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def status_class(status: int) -> str:
    """``2xx``, ``4xx``, ``5xx``: the seed's dashboards match on these."""
    return f"{status // 100}xx"


class WebhookMetrics:
    """Received webhooks, latency, NATS publishes and errors, refusals by kind.

    Label children on the accepted path are looked up once and kept (``labels()``
    takes a lock and builds a tuple per call); label values here are bounded (served
    sources and ``unknown``, three status classes).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._received: dict[tuple[str, int], Counter] = {}
        self.received = Counter(
            "gateway_webhooks_received_total",
            "Webhooks received, by source and status class (2xx, 4xx, 5xx)",
            ("source", "status"),
            registry=registry,
        )
        self.duration = Histogram(
            "gateway_webhook_duration_seconds",
            "Time to accept or refuse one webhook (JetStream acks included)",
            buckets=_BUCKETS,
            registry=registry,
        )
        self.nats_publish = Counter(
            "gateway_nats_publish_total",
            "JetStream publishes by status (success, error)",
            ("status",),
            registry=registry,
        )
        self.nats_errors = Counter(
            "gateway_nats_errors_total",
            "JetStream publish failures by type (connection, publish, stream)",
            ("type",),
            registry=registry,
        )
        self.backpressure = Counter(
            "gateway_backpressure_total",
            "Webhooks refused because the in-flight publish buffer was full",
            registry=registry,
        )
        self.rate_limited = Counter(
            "gateway_rate_limit_exceeded_total",
            "Webhooks refused by a rate limit, by scope (client, source)",
            ("scope",),
            registry=registry,
        )
        self.validation_errors = Counter(
            "gateway_validation_errors_total",
            "Webhooks refused by validation, by type (signature, replay, payload, …)",
            ("type",),
            registry=registry,
        )
        self.idempotency_conflicts = Counter(
            "gateway_idempotency_conflicts_total",
            "Webhooks refused as duplicates (GW-006)",
            registry=registry,
        )
        self.published_ok = self.nats_publish.labels("success")

    def count_received(self, source: str, status: int) -> None:
        """Count one answered webhook under its source and status class."""
        key = (source, status)
        child = self._received.get(key)
        if child is None:
            child = self._received[key] = self.received.labels(source, status_class(status))
        child.inc()
