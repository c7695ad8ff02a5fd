"""The streaming app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from fastapi import FastAPI
from opentelemetry import trace

from access_common.app import build_app
from access_common.backends import Bus, make_bus, make_kafka_bus, make_kv
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.clients import MetricsClient
from access_common.health import HealthRegistry
from access_common.http import HttpClient
from access_common.lifecycle import Resources, resources_lifespan
from access_common.metrics import ServiceMetrics
from access_common.middleware import RequestContextMiddleware
from access_common.pusher import MetricsPusher
from access_common.settings import load_settings
from access_streaming.dev.feed import DevFeed
from access_streaming.dev.router import router as dev_router
from access_streaming.metrics import StreamingMetrics
from access_streaming.runtime import StreamingRuntime
from access_streaming.settings import StreamingSettings
from access_streaming.shutdown import drain_on_signals
from access_streaming.sse.router import router as sse_router
from access_streaming.stats.router import router as stats_router
from access_streaming.topics import BusName, TopicRegistry
from access_streaming.ws.link import RuntimeLink

__all__ = ["SERVICE", "create_app"]

SERVICE = "streaming"
_DESCRIPTION = """WebSocket (`/ws/stream`) and SSE (`/sse/stream`) fan-out of bus topics with
entitlement guardrails; protocol, limits, close codes and error codes in docs/streaming.md."""


def _tracer(app: FastAPI) -> trace.Tracer | None:
    """The tracer build_app gave the request middleware (None when tracing is off)."""
    for middleware in app.user_middleware:
        factory: object = middleware.cls
        if factory is RequestContextMiddleware:
            return cast("trace.Tracer | None", middleware.kwargs.get("tracer"))
    return None


def create_app(
    settings: StreamingSettings | None = None,
    *,
    resources: Resources | None = None,
    registry: TopicRegistry | None = None,
) -> FastAPI:
    """Build streaming; backends connect and readers start in the lifespan."""
    settings = settings or load_settings(StreamingSettings)
    registry = registry or TopicRegistry.load(settings.topics_file)
    resources = resources or Resources(
        http=HttpClient.from_settings(settings),
        kv=make_kv(settings),
        bus=make_bus(settings),
        kafka=make_kafka_bus(settings),
        peers={
            "auth": settings.auth_service_url,
            "entitlements": settings.entitlements_service_url,
            "metrics": settings.metrics_service_url,
        },
    )
    metrics = ServiceMetrics(SERVICE)
    streaming_metrics = StreamingMetrics(metrics.registry)
    # Messages sent, pushed to the metrics service: a dict update per write, never awaited;
    # dropped and counted when the service is down.
    pusher = MetricsPusher(
        MetricsClient(resources.http, settings.metrics_service_url),
        source="streaming",
        registry=metrics.registry,
    )
    health = HealthRegistry(timeout=settings.health_check_timeout_seconds)
    base = resources_lifespan(resources, health)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with base(app):
            buses: dict[BusName, Bus] = {}
            if resources.bus is not None:
                buses["nats"] = resources.bus
            if resources.kafka is not None:
                buses["kafka"] = resources.kafka
            runtime = StreamingRuntime(
                settings,
                registry=registry,
                http=resources.http,
                kv=resources.kv or MemoryKeyValue(),
                buses=buses,
                metrics=streaming_metrics,
                tracer=_tracer(app),
                pusher=pusher,
            )
            app.state.streaming = runtime
            await runtime.start()
            pusher.start()
            feed = None
            if settings.dev_feed_enabled:
                feed = DevFeed(runtime, interval=settings.dev_feed_interval_seconds)
                feed.start()
            try:
                with drain_on_signals(runtime.drain):
                    yield
            finally:
                if feed is not None:
                    await feed.stop()
                await runtime.close()
                await pusher.aclose()

    routers = [sse_router, stats_router]
    if settings.env == "local":
        routers.append(dev_router)
    app = build_app(
        settings,
        service=SERVICE,
        title="254Carbon Access Streaming",
        description=_DESCRIPTION,
        routers=routers,
        health=health,
        metrics=metrics,
        lifespan=lifespan,
    )
    # /ws/stream is served by the uvicorn protocol class (ws/socket.py), which finds the
    # runtime through the lifespan state; FastAPI serves every HTTP route.
    app.add_middleware(RuntimeLink, state=app.state)
    return app
