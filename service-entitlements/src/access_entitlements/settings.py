"""Entitlements configuration (``ACCESS_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from access_common.settings import KvSettings, PeerSettings, ServiceSettings, StoreSettings

__all__ = ["EntitlementsSettings"]


class EntitlementsSettings(ServiceSettings, KvSettings, StoreSettings, PeerSettings):
    """Everything entitlements reads: port, rule store, decision cache, policy file, auth peer."""

    port: int = Field(default=8011, ge=1, le=65535)
    entitlements_policy_file: Path | None = Field(
        default=None, description="YAML rules seeded into tenants that never had any"
    )
    entitlements_cache_ttl_min_seconds: int = Field(default=30, ge=1, le=3600)
    entitlements_cache_ttl_max_seconds: int = Field(default=120, ge=1, le=3600)
    entitlements_local_cache_size: int = Field(default=100_000, ge=100, le=10_000_000)
    entitlements_reconcile_seconds: float = Field(default=5.0, gt=0, le=300)

    @model_validator(mode="after")
    def _ttl_bounds(self) -> Self:
        if self.entitlements_cache_ttl_min_seconds > self.entitlements_cache_ttl_max_seconds:
            raise ValueError(
                "ACCESS_ENTITLEMENTS_CACHE_TTL_MIN_SECONDS exceeds "
                "ACCESS_ENTITLEMENTS_CACHE_TTL_MAX_SECONDS"
            )
        return self
