"""Prometheus metrics: one registry per app, the HTTP RED metrics every service has.

With several worker processes (``ACCESS_WORKERS`` > 1) each worker counts in its own
memory, and a scrape reaches only one of them. :func:`access_common.run.serve` then
sets ``PROMETHEUS_MULTIPROC_DIR``: prometheus-client keeps every value in a file of
that folder, and :meth:`ServiceMetrics.render` adds up the files of all workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["CONTENT_TYPE_LATEST", "MULTIPROC_DIR_VARIABLE", "ServiceMetrics", "multiprocess_dir"]

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The folder workers share their metric values through, when there are several."""
    return os.environ.get(MULTIPROC_DIR_VARIABLE) or None


_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class ServiceMetrics:
    """The registry of one app plus its request count, latency and in-flight metrics.

    A registry per app (not the global one) lets tests build many apps in one process.
    Services add their own metrics with ``registry=metrics.registry``.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ("method", "route"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        # multiprocess_mode says how workers' gauges combine (ignored with one process).
        self.in_flight = Gauge(
            "http_requests_in_flight",
            "HTTP requests being served",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.info = Gauge(
            "service_info",
            "Static service information",
            ("service", "version"),
            registry=self.registry,
            multiprocess_mode="max",
        )

        # labels() builds a key and takes a lock on every call; a request only needs the
        # children of its (method, route template, status), found again here by one dict get.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._on_render: list[Callable[[], None]] = []

    def on_render(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` before each scrape (to set a gauge computed at scrape time).

        Use this rather than ``Gauge.set_function``, whose value never reaches the shared
        files when several workers run.
        """
        self._on_render.append(callback)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format, every worker's values summed."""
        for callback in self._on_render:
            callback()
        folder = multiprocess_dir()
        if folder is None:
            return _generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        return _generate_latest(registry)
