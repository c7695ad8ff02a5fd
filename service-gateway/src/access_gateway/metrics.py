"""The gateway's own Prometheus metrics, registered on the app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["GatewayMetrics"]

_UPSTREAM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_WARM_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_AGE_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class GatewayMetrics:
    """Cache, rate limit, upstream, principal, reload and cache-warm metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.cache_requests = Counter(
            "gateway_cache_requests_total",
            "Cacheable reads by route and result (hit, stale, miss, bypass)",
            ("route", "result"),
            registry=registry,
        )
        self.cache_hit_ratio = Gauge(
            "gateway_cache_hit_ratio",
            "Share of cacheable reads answered from cache (hit or stale) since start",
            registry=registry,
        )
        self.cache_store_errors = Counter(
            "gateway_cache_store_errors_total",
            "Key-value store failures seen by the cache (it then uses its in-process tier)",
            registry=registry,
        )
        self.upstream_calls = Counter(
            "gateway_upstream_calls_total",
            "Calls to upstreams by outcome (ok, 5xx, timeout, unreachable, circuit_open, ...)",
            ("upstream", "outcome"),
            registry=registry,
        )
        self.upstream_seconds = Histogram(
            "gateway_upstream_duration_seconds",
            "Time of one upstream call, queueing included",
            ("upstream",),
            buckets=_UPSTREAM_BUCKETS,
            registry=registry,
        )
        self.circuit_state = Gauge(
            "gateway_upstream_circuit_state",
            "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open",
            ("upstream",),
            registry=registry,
        )
        self.ratelimit_decisions = Counter(
            "gateway_ratelimit_decisions_total",
            "Rate-limit decisions by tier and result (allowed, limited)",
            ("tier", "result"),
            registry=registry,
        )
        self.ratelimit_degraded = Gauge(
            "gateway_ratelimit_degraded",
            "1 while the shared rate-limit store is lost and this replica limits alone",
            registry=registry,
        )
        self.ratelimit_switches = Counter(
            "gateway_ratelimit_store_switches_total",
            "Switches from the shared rate-limit budget to this replica's warm share",
            registry=registry,
        )
        self.ratelimit_store_calls = Counter(
            "gateway_ratelimit_store_calls_total",
            "INCRBYs sent to the shared rate-limit store (each leases a block of hits)",
            registry=registry,
        )
        self.ratelimit_refill_errors = Counter(
            "gateway_ratelimit_refill_errors_total",
            "Rate-limit refills failed by a fault other than a lost store (logged once)",
            registry=registry,
        )
        self.principals = Counter(
            "gateway_principal_cache_total",
            "Token lookups by result (hit, miss)",
            ("result",),
            registry=registry,
        )
        self.reloads = Counter(
            "gateway_config_reloads_total",
            "Reloads of the route table and rate-limit files by result (ok, error)",
            ("file", "result"),
            registry=registry,
        )
        self.warm_total = Counter(
            "gateway_served_cache_warm_total",
            "Hot served queries warmed, by result (hit = stored, error, skipped)",
            ("result",),
            registry=registry,
        )
        self.warm_seconds = Histogram(
            "gateway_served_cache_warm_duration_seconds",
            "Time of one whole cache warm",
            buckets=_WARM_BUCKETS,
            registry=registry,
        )
        self.projection_age = Histogram(
            "gateway_served_projection_age_seconds",
            "Age of the projection data served, by route",
            ("route",),
            buckets=_AGE_BUCKETS,
            registry=registry,
        )
