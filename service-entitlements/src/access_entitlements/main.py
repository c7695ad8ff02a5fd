"""Process entry point: `access-entitlements` or `python -m access_entitlements`."""

from __future__ import annotations

from access_common.run import serve
from access_entitlements.settings import EntitlementsSettings

__all__ = ["run"]


def run() -> None:
    """Start the entitlements service with settings from the environment."""
    serve("access_entitlements.app:create_app", EntitlementsSettings, service="entitlements")
