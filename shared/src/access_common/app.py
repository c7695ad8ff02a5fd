"""The app factory every service builds on: errors, middleware, health, metrics, docs."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.responses import Response

from access_common.error_handlers import install_error_handlers
from access_common.errors import ErrorBody
from access_common.health import HealthRegistry, health_router
from access_common.lifecycle import Lifespan, Resources, resources_lifespan
from access_common.log import AccessLog
from access_common.metrics import CONTENT_TYPE_LATEST, ServiceMetrics
from access_common.middleware import RequestContextMiddleware
from access_common.settings import ServiceSettings
from access_common.tracing import make_tracer

__all__ = ["ERROR_RESPONSES", "Lifespan", "build_app"]


# FastAPI's own OpenTelemetry instrumentation stays off: the request middleware makes the
# platform's spans and RED metrics, and FastAPI's check of the global providers costs
# about 5% of a small request even when none is configured (profiled: docs/benchmarks.md).
_NO_FASTAPI_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such route or resource"},
    413: {"model": ErrorBody, "description": "Body too large"},
    422: {"model": ErrorBody, "description": "Validation failed"},
    500: {"model": ErrorBody, "description": "Internal error"},
}


def _freezing(lifespan: Lifespan | None, access_log: AccessLog | None) -> Lifespan:
    """Run the service's lifespan, then move everything it allocated out of the GC's sight.

    Objects made at start (app, routes, models, clients) live for the whole process;
    ``gc.freeze()`` keeps the collector from walking them again on every full
    collection, which otherwise shows up as latency spikes under load. On shutdown the
    access lines still buffered are written.
    """

    @asynccontextmanager
    async def lifespan_then_freeze(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with lifespan(app) if lifespan is not None else nullcontext():
                gc.collect()
                gc.freeze()
                yield
        finally:
            if access_log is not None:
                access_log.flush()

    return lifespan_then_freeze


def _metrics_router(metrics: ServiceMetrics) -> APIRouter:
    router = APIRouter(tags=["observability"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router


def build_app(
    settings: ServiceSettings,
    *,
    service: str,
    title: str,
    description: str = "",
    routers: Sequence[APIRouter] = (),
    health: HealthRegistry | None = None,
    metrics: ServiceMetrics | None = None,
    lifespan: Lifespan | None = None,
    resources: Resources | None = None,
    access_log: bool = True,
) -> FastAPI:
    """Build a service's FastAPI app with everything the platform gives every service.

    Nothing here touches the network: backends connect in the service's lifespan.
    Pass ``resources`` (its backends and peers, opened and health-checked for you) or a
    ``lifespan`` of the service's own, not both.
    """
    metrics = metrics or ServiceMetrics(service)
    metrics.info.labels(service, settings.version).set(1)
    health = health or HealthRegistry(timeout=settings.health_check_timeout_seconds)
    if resources is not None:
        if lifespan is not None:
            raise ValueError("pass resources or lifespan, not both")
        lifespan = resources_lifespan(resources, health)
    request_log = AccessLog(service) if access_log else None
    app = FastAPI(
        title=title,
        description=description,
        version=settings.version,
        lifespan=_freezing(lifespan, request_log),
        responses=ERROR_RESPONSES,
        telemetry=_NO_FASTAPI_TELEMETRY,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.health = health
    app.state.service = service
    app.state.access_log = request_log
    install_error_handlers(app)
    tracer = (
        make_tracer(service, settings.version, settings.otel_exporter)
        if settings.enable_tracing
        else None
    )
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        access_log=request_log or False,
        tracer=tracer,
    )
    # The service's routes first: they carry the traffic, and FastAPI tries included
    # routers in order on every request.
    for router in routers:
        app.include_router(router)
    app.include_router(health_router(service, settings.version, settings.commit, health))
    app.include_router(_metrics_router(metrics))
    return app
