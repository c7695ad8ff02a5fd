"""Gateway configuration (``ACCESS_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from access_common.settings import KvSettings, PeerSettings, ServiceSettings
from access_gateway.webhooks.settings import WebhookSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings, KvSettings, PeerSettings, WebhookSettings):
    """Everything the gateway reads: port, cache/counter store, peers, files, seed 004 webhooks."""

    port: int = Field(default=8000, ge=1, le=65535)
    # Seed 000/001 configuration.
    rate_limits_file: Path | None = None
    clickhouse_url: str | None = Field(default=None, pattern=r"^https?://")
    projection_service_url: str = Field(default="http://127.0.0.1:8020", pattern=r"^https?://")
    cache_warm_concurrency: int = Field(default=5, ge=1, le=100)
    hot_served_queries_file: Path | None = None
    # The gateway's own.
    routes_file: Path | None = None
    config_reload_seconds: float = Field(default=2.0, ge=0, le=3600)
    principal_cache_size: int = Field(default=100_000, ge=0)
    principal_expiry_margin_seconds: float = Field(default=5.0, ge=0, le=300)
    cache_lru_entries: int = Field(default=10_000, ge=0)
    cache_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    upstream_max_body_bytes: int = Field(default=16_777_216, ge=1024)
    max_header_bytes: int = Field(default=16_384, ge=1024)
    rate_limit_replicas: int = Field(default=1, ge=1, le=1000)
    forwarded_for_hops: int = Field(default=0, ge=0, le=10)
