"""The auth service app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from access_auth.dev.router import router as dev_router
from access_auth.jwks.cache import HttpGetter
from access_auth.metrics import AuthMetrics
from access_auth.runtime import AuthRuntime
from access_auth.settings import AuthSettings
from access_auth.verify.router import router as verify_router
from access_common.app import build_app
from access_common.health import HealthRegistry
from access_common.http import HttpClient
from access_common.metrics import ServiceMetrics
from access_common.settings import load_settings

__all__ = ["SERVICE", "create_app"]

SERVICE = "auth"
_DESCRIPTION = """JWT verification for the access layer: Keycloak's JWKS (cached, rotated,
fallback keys during an outage), strict algorithm and claims policy, and a dev issuer
in `ACCESS_ENV=local`. Error codes: docs/auth.md."""


def create_app(settings: AuthSettings | None = None, *, http: HttpGetter | None = None) -> FastAPI:
    """Build the auth service. Keys load in the lifespan; nothing happens here.

    ``http`` is the client used to fetch the JWKS (a test passes one over
    ``httpx.MockTransport``); when omitted the app makes and closes its own.
    """
    settings = settings or load_settings(AuthSettings)
    metrics = ServiceMetrics(SERVICE)
    auth_metrics = AuthMetrics(metrics.registry)
    metrics.on_render(auth_metrics.update_age)
    health = HealthRegistry(timeout=settings.health_check_timeout_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: HttpClient | None = None
        client = http
        if client is None and settings.jwks_url is not None:
            owned = HttpClient.from_settings(settings)
            client = owned
        try:
            runtime = await AuthRuntime.start(settings, http=client, metrics=auth_metrics)
            app.state.auth = runtime
            health.add("jwks", runtime.jwks_health, critical=True)
            try:
                yield
            finally:
                await runtime.aclose()
        finally:
            if owned is not None:
                await owned.aclose()

    routers = [verify_router]
    if settings.dev_issuer_enabled:
        routers.append(dev_router)
    return build_app(
        settings,
        service=SERVICE,
        title="254Carbon Access Auth",
        description=_DESCRIPTION,
        routers=routers,
        health=health,
        metrics=metrics,
        lifespan=lifespan,
    )
