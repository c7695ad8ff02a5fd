"""The entitlements app factory."""

from __future__ import annotations

from fastapi import FastAPI

from access_common.app import build_app
from access_common.backends import make_kv, make_store
from access_common.http import HttpClient
from access_common.lifecycle import Resources
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
        http=HttpClient.from_settings(settings),
        kv=make_kv(settings),
        store=make_store(settings, default_path=settings.state_dir / "entitlements.sqlite3"),
    )
    return build_app(
        settings,
        service=SERVICE,
        title="254Carbon Access Entitlements",
        description="Allow/deny decisions for {user, tenant, action, resource} with a TTL.",
        resources=resources,
    )
