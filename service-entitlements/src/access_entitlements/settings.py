"""Entitlements configuration (``ACCESS_*``)."""

from __future__ import annotations

from pydantic import Field

from access_common.settings import KvSettings, ServiceSettings, StoreSettings

__all__ = ["EntitlementsSettings"]


class EntitlementsSettings(ServiceSettings, KvSettings, StoreSettings):
    """Everything entitlements reads: its port, the rule store and the decision cache."""

    port: int = Field(default=8011, ge=1, le=65535)
