"""The gateway app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from access_common.app import build_app
from access_common.backends import make_kv
from access_common.checks import peer_check, ping_check
from access_common.health import HealthRegistry
from access_common.http import HttpClient
from access_common.lifecycle import Resources
from access_common.metrics import ServiceMetrics
from access_common.settings import load_settings
from access_gateway.config.watcher import ConfigWatcher
from access_gateway.metrics import GatewayMetrics
from access_gateway.openapi import install_openapi
from access_gateway.pipeline.handler import Pipeline
from access_gateway.runtime import GatewayRuntime
from access_gateway.settings import GatewaySettings
from access_gateway.warm.endpoint import cache_warm_handler
from access_gateway.webhooks import install_webhooks, make_signal_bus

__all__ = ["SERVICE", "create_app"]

SERVICE = "gateway"
_DESCRIPTION = """REST front door of the access layer: every `/api/v1` route of the route
table passes rate limit → token verification → entitlement → cache → upstream.
Error codes and behaviour: docs/gateway.md."""
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def create_app(
    settings: GatewaySettings | None = None, *, resources: Resources | None = None
) -> FastAPI:
    """Build the gateway; the route table and limits are read now, backends connect later."""
    settings = settings or load_settings(GatewaySettings)
    resources = resources or Resources(
        http=HttpClient.from_settings(settings),
        kv=make_kv(settings),
        bus=make_signal_bus(settings),
        peers={
            "auth": settings.auth_service_url,
            "entitlements": settings.entitlements_service_url,
        },
    )
    metrics = ServiceMetrics(SERVICE)
    health = HealthRegistry(timeout=settings.health_check_timeout_seconds)
    runtime = GatewayRuntime(
        settings,
        http=resources.http,
        kv=resources.kv,
        metrics=GatewayMetrics(metrics.registry),
        health=health,
    )
    _register_checks(health, resources, runtime)
    watcher = ConfigWatcher(runtime.watched_files, runtime.reload, settings.config_reload_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await resources.open()
        app.state.resources = resources
        runtime.start()
        watcher.start()
        try:
            yield
        finally:
            await watcher.aclose()
            await runtime.aclose()
            await resources.close()

    pipeline = Pipeline(runtime)
    pipeline.internal["cache_warm"] = cache_warm_handler(runtime)
    app = build_app(
        settings,
        service=SERVICE,
        title="254Carbon Access Gateway",
        description=_DESCRIPTION,
        health=health,
        metrics=metrics,
        lifespan=lifespan,
    )
    app.state.gateway = runtime
    app.state.config_watcher = watcher
    app.add_route("/api/{path:path}", pipeline.handle, methods=_METHODS, include_in_schema=False)
    # Matched first: every REST request would otherwise be tried against the docs,
    # health and metrics routes before it (no other route lives under /api/).
    app.router.routes.insert(0, app.router.routes.pop())
    # Signed webhooks share the process, its Resources and its rate limiter.
    install_webhooks(
        app, settings, resources, limiter=runtime.limits.limiter, client_ip=runtime.client_ip
    )
    install_openapi(app, runtime)
    return app


def _register_checks(health: HealthRegistry, resources: Resources, runtime: GatewayRuntime) -> None:
    """Redis, auth, entitlements, each upstream: none gates readiness on its own.

    With Redis down the gateway still serves (warm local limiter, cache bypassed), and
    with auth or entitlements down it still serves remembered principals and decisions,
    so a load balancer must not take every replica out: each is reported, none required.
    """
    if resources.kv is not None:
        health.add(resources.kv.name, ping_check(resources.kv), required=False)
    for backend in (resources.store, resources.bus, resources.kafka):
        if backend is not None:  # the webhook ingestion's bus: GW-005 and /healthz say it
            health.add(backend.name, ping_check(backend), required=False)
    for name, url in resources.peers.items():
        health.add(name, peer_check(resources.http, url), required=False)
    limiter = runtime.limits.limiter

    async def rate_limiter() -> str | None:
        return "degraded" if limiter.degraded else None

    health.add("ratelimit", rate_limiter, required=False)
