"""The entitlements app factory."""

from __future__ import annotations

from fastapi import FastAPI

from access_common.app import build_app
from access_common.backends import make_kv, make_store
from access_common.health import HealthRegistry
from access_common.http import HttpClient
from access_common.lifecycle import Resources, resources_lifespan
from access_common.settings import load_settings
from access_entitlements.settings import EntitlementsSettings

__all__ = ["create_app"]

SERVICE = "entitlements"


def create_app(
    settings: EntitlementsSettings | None = None, *, resources: Resources | None = None
) -> FastAPI:
    """Build entitlements: allow/deny decisions (rules arrive with their issue)."""
    settings = settings or load_settings(EntitlementsSettings)
    resources = resources or Resources(
        http=HttpClient(timeout=settings.http_timeout_seconds, retries=settings.http_retries),
        kv=make_kv(settings),
        store=make_store(settings, default_path=settings.state_dir / "entitlements.sqlite3"),
    )
    health = HealthRegistry(timeout=settings.health_check_timeout_seconds)
    return build_app(
        settings,
        service=SERVICE,
        title="254Carbon Access Entitlements",
        description="Allow/deny decisions for {user, tenant, action, resource} with a TTL.",
        health=health,
        lifespan=resources_lifespan(resources, health),
    )
