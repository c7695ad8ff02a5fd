"""The entitlements app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from access_common.app import build_app
from access_common.backends import make_kv, make_store
from access_common.checks import ping_check
from access_common.clients import AuthClient
from access_common.health import HealthRegistry
from access_common.http import HttpClient
from access_common.lifecycle import Resources, resources_lifespan
from access_common.metrics import ServiceMetrics
from access_common.settings import load_settings
from access_entitlements.audit.router import router as audit_router
from access_entitlements.decisions.router import fast_routes
from access_entitlements.decisions.router import router as decisions_router
from access_entitlements.metrics import EntitlementsMetrics
from access_entitlements.policy.router import router as policy_router
from access_entitlements.rules.router import router as rules_router
from access_entitlements.runtime import EntitlementsRuntime
from access_entitlements.settings import EntitlementsSettings

__all__ = ["SERVICE", "create_app"]

SERVICE = "entitlements"
_DESCRIPTION = """Allow/deny decisions for {user, tenant, roles, action, resource} with a TTL
and the tenant's policy version; tenant-scoped rules (deny wins, the most specific rule is
named), their administration, explain and audit. Error codes: docs/entitlements.md."""


def create_app(
    settings: EntitlementsSettings | None = None,
    *,
    resources: Resources | None = None,
    auth: AuthClient | None = None,
) -> FastAPI:
    """Build entitlements; backends connect and the policy loads in the lifespan.

    ``auth`` is the client used to verify admin tokens (default: the auth service at
    ``ACCESS_AUTH_SERVICE_URL`` over the resources' HTTP client).
    """
    settings = settings or load_settings(EntitlementsSettings)
    resources = resources or Resources(
        http=HttpClient.from_settings(settings),
        kv=make_kv(settings),
        store=make_store(settings, default_path=settings.state_dir / "entitlements.sqlite3"),
    )
    if resources.store is None or resources.kv is None:
        raise ValueError("entitlements needs a store and a key-value backend")
    store, kv = resources.store, resources.kv
    metrics = ServiceMetrics(SERVICE)
    own_metrics = EntitlementsMetrics(metrics.registry)
    health = HealthRegistry(timeout=settings.health_check_timeout_seconds)
    auth_client = auth or AuthClient(resources.http, settings.auth_service_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with resources_lifespan(resources, health)(app):
            # Neither backend gates readiness: with the store down cached decisions are
            # still served, and with Redis down the local tier is.
            health.add(store.name, ping_check(store), required=False)
            health.add(kv.name, ping_check(kv), required=False)
            runtime = EntitlementsRuntime(
                settings, store=store, kv=kv, auth=auth_client, metrics=own_metrics
            )
            if runtime.feed is not None:
                health.add(runtime.feed.name, runtime.policy_health, required=False)
            await runtime.start()
            app.state.entitlements = runtime
            try:
                yield
            finally:
                await runtime.close()

    app = build_app(
        settings,
        service=SERVICE,
        title="254Carbon Access Entitlements",
        description=_DESCRIPTION,
        routers=[decisions_router, policy_router, rules_router, audit_router],
        health=health,
        metrics=metrics,
        lifespan=lifespan,
    )
    # check and check-batch answer from plain routes placed first (decisions/router.py).
    app.router.routes[0:0] = fast_routes()
    return app
