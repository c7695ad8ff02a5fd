"""The metrics service app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from access_common.app import build_app
from access_common.checks import ping_check
from access_common.health import HealthRegistry
from access_common.metrics import ServiceMetrics
from access_common.settings import load_settings
from access_metrics.exposition.router import metrics_router
from access_metrics.ingest.router import router as ingest_router
from access_metrics.own_metrics import IngestMetrics
from access_metrics.runtime import MetricsRuntime, make_store
from access_metrics.series.store import SeriesStore
from access_metrics.settings import MetricsSettings

__all__ = ["SERVICE", "create_app"]

SERVICE = "metrics"
_DESCRIPTION = """Edge services push counters, gauges and histogram observations to
`POST /metrics/track`; Prometheus scrapes the aggregate at `/metrics` (OpenMetrics on
request). With `ACCESS_REDIS_URL` the totals survive restarts and replicas share them.
Error codes: docs/errors.md."""


def create_app(
    settings: MetricsSettings | None = None, *, store: SeriesStore | None = None
) -> FastAPI:
    """Build the metrics service; the store connects in the lifespan."""
    settings = settings or load_settings(MetricsSettings)
    metrics = ServiceMetrics(SERVICE)
    own = IngestMetrics(metrics.registry)
    runtime = MetricsRuntime(settings, store or make_store(settings), own)
    health = HealthRegistry(timeout=settings.health_check_timeout_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime.store.name != "memory":
            health.add(runtime.store.name, ping_check(runtime.store))
        await runtime.start()
        try:
            yield
        finally:
            await runtime.store.close()

    app = build_app(
        settings,
        service=SERVICE,
        title="254Carbon Access Metrics",
        description=_DESCRIPTION,
        routers=[ingest_router],
        health=health,
        metrics=metrics,
        lifespan=lifespan,
    )
    app.state.metrics_runtime = runtime
    _replace_metrics_route(app)
    return app


def _replace_metrics_route(app: FastAPI) -> None:
    """Serve /metrics with the pushed series and content negotiation.

    build_app installs the platform's /metrics (own registry, text only); this service's
    route replaces it rather than shadowing it, so OpenAPI lists one /metrics.
    """
    app.router.routes[:] = [route for route in app.router.routes if not _serves_metrics(route)]
    app.include_router(metrics_router())


def _serves_metrics(route: BaseRoute) -> bool:
    # FastAPI keeps an included router as one entry holding the router (since 0.16x).
    included = getattr(route, "original_router", None)
    routes = included.routes if included is not None else [route]
    return any(isinstance(r, APIRoute) and r.path == "/metrics" for r in routes)
