"""The entitlements service's own Prometheus metrics, registered on the app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["EntitlementsMetrics"]

# Evaluation is a few microseconds of dict lookups: the buckets start at 1 µs.
_EVAL_BUCKETS = (
    0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.001, 0.01,
)  # fmt: skip


class EntitlementsMetrics:
    """Checks by result, cache hits per tier, evaluation time, rules, version changes, TTL."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.checks = Counter(
            "entitlements_checks_total",
            "Decisions by result (allow, deny) and checks that failed (unavailable)",
            ("result",),
            registry=registry,
        )
        self.cache = Counter(
            "entitlements_cache_total",
            "Decision cache lookups by tier (local, kv) and outcome (hit, miss, error)",
            ("tier", "outcome"),
            registry=registry,
        )
        self.evaluation_seconds = Histogram(
            "entitlements_rule_evaluation_seconds",
            "Time to evaluate one check against a tenant's compiled rules",
            buckets=_EVAL_BUCKETS,
            registry=registry,
        )
        self.rules = Gauge(
            "entitlements_rules",
            "Rules of each tenant in the policy this replica last loaded",
            ("tenant",),
            registry=registry,
        )
        self.version_changes = Counter(
            "entitlements_policy_version_changes_total",
            "Policy version increases this replica learned, by source "
            "(local write, feed, store read, sync)",
            ("source",),
            registry=registry,
        )
        self.ttl_seconds = Gauge(
            "entitlements_decision_ttl_seconds",
            "The adaptive TTL given to new decisions",
            registry=registry,
        )
