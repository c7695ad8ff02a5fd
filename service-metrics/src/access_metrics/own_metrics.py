"""The metrics service's own metrics: samples accepted and refused, series, ingest latency."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from access_metrics.series.model import FamilyState, MetricType

__all__ = ["IngestMetrics"]

_INGEST_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip


class IngestMetrics:
    """Registered on the app's registry next to the RED metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.accepted = Counter(
            "metrics_samples_accepted_total",
            "Pushed samples aggregated, by metric type",
            ("type",),
            registry=registry,
        )
        self.refused = Counter(
            "metrics_samples_refused_total",
            "Pushed samples refused, by reason: the error code, lowercased; batch_refused for "
            "valid samples of a request refused for another sample",
            ("reason",),
            registry=registry,
        )
        self.series = Gauge(
            "metrics_series",
            "Series (label sets) held per pushed metric",
            ("metric",),
            registry=registry,
        )
        self.families = Gauge("metrics_families", "Pushed metric families known", registry=registry)
        self.exporting = Gauge(
            "metrics_exporter_leader",
            "1 when this replica exposes the pushed series (holds the export lease)",
            registry=registry,
        )
        self.ingest_seconds = Histogram(
            "metrics_ingest_duration_seconds",
            "Time to validate and aggregate one POST /metrics/track",
            buckets=_INGEST_BUCKETS,
            registry=registry,
        )
        for reason in (
            "invalid_json",
            "invalid_sample",
            "invalid_metric_name",
            "invalid_label",
            "invalid_value",
            "series_limit_exceeded",
            "family_limit_exceeded",
            "metric_type_conflict",
            "metric_labels_conflict",
            "metric_name_conflict",
            "batch_too_large",
            "backend_unavailable",
            "batch_refused",
        ):
            self.refused.labels(reason)
        # Children resolved once: ingestion counts into them on every request.
        self.accepted_by_type = {kind: self.accepted.labels(kind.value) for kind in MetricType}

    def refuse(self, reason: str, count: int = 1) -> None:
        """Count refused samples."""
        self.refused.labels(reason.lower()).inc(count)

    def observe_states(self, states: list[FamilyState], exporting: bool) -> None:
        """Update the series gauges from one scrape's snapshot."""
        for state in states:
            self.series.labels(state.spec.name).set(len(state))
        self.families.set(len(states))
        self.exporting.set(1 if exporting else 0)

    def reserved_names(self) -> set[str]:
        """Every sample name of this registry (RED metrics included): pushers cannot use them."""
        names: set[str] = set()
        for family in self.registry.collect():
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
            names.update(f"{family.name}{suffix}" for suffix in ("_total", "_bucket", "_count",
                                                                 "_sum", "_created"))  # fmt: skip
        return names
