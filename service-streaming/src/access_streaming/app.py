"""The streaming app factory."""

from __future__ import annotations

from fastapi import FastAPI

from access_common.app import build_app
from access_common.backends import make_bus, make_kafka_bus
from access_common.http import HttpClient
from access_common.lifecycle import Resources
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
        http=HttpClient.from_settings(settings),
        bus=make_bus(settings),
        kafka=make_kafka_bus(settings),
        peers={
            "auth": settings.auth_service_url,
            "entitlements": settings.entitlements_service_url,
            "metrics": settings.metrics_service_url,
        },
    )
    return build_app(
        settings,
        service=SERVICE,
        title="254Carbon Access Streaming",
        description="WebSocket and SSE fan-out of bus topics with entitlement guardrails.",
        resources=resources,
    )
