"""The gateway app factory."""

from __future__ import annotations

from fastapi import FastAPI

from access_common.app import build_app
from access_common.backends import make_kv
from access_common.http import HttpClient
from access_common.lifecycle import Resources
from access_common.settings import load_settings
from access_gateway.settings import GatewaySettings
from access_gateway.webhooks import install_webhooks, make_signal_bus

__all__ = ["create_app"]

SERVICE = "gateway"


def create_app(
    settings: GatewaySettings | None = None, *, resources: Resources | None = None
) -> FastAPI:
    """Build the gateway: REST front door (routes arrive with the gateway issue)."""
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
    app = build_app(
        settings,
        service=SERVICE,
        title="254Carbon Access Gateway",
        description="REST front door: rate limits, authentication, entitlements, caching.",
        resources=resources,
    )
    install_webhooks(app, settings, resources)
    return app
