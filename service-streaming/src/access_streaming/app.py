"""The streaming app factory."""

from __future__ import annotations

from fastapi import FastAPI

from access_common.app import build_app
from access_common.backends import make_bus, make_kafka_bus
from access_common.health import HealthRegistry
from access_common.http import HttpClient
from access_common.lifecycle import Resources, resources_lifespan
from access_common.settings import load_settings
from access_streaming.settings import StreamingSettings

__all__ = ["create_app"]

SERVICE = "streaming"


def create_app(
    settings: StreamingSettings | None = None, *, resources: Resources | None = None
) -> FastAPI:
    """Build streaming: bus topics fanned out to WebSocket/SSE (routes arrive with their issue)."""
    settings = settings or load_settings(StreamingSettings)
    resources = resources or Resources(
        http=HttpClient(timeout=settings.http_timeout_seconds, retries=settings.http_retries),
        bus=make_bus(settings),
        kafka=make_kafka_bus(settings),
        peers={
            "auth": settings.auth_service_url,
            "entitlements": settings.entitlements_service_url,
            "metrics": settings.metrics_service_url,
        },
    )
    health = HealthRegistry(timeout=settings.health_check_timeout_seconds)
    return build_app(
        settings,
        service=SERVICE,
        title="254Carbon Access Streaming",
        description="WebSocket and SSE fan-out of bus topics with entitlement guardrails.",
        health=health,
        lifespan=resources_lifespan(resources, health),
    )
