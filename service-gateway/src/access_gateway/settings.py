"""Gateway configuration (``ACCESS_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from access_common.settings import KvSettings, PeerSettings, ServiceSettings
from access_gateway.webhooks.settings import WebhookSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings, KvSettings, PeerSettings, WebhookSettings):
    """Everything the gateway reads: its port, the cache/counter store and its peers."""

    port: int = Field(default=8000, ge=1, le=65535)
    # Seed 000/001 configuration, validated now; the gateway issue's features use them.
    rate_limits_file: Path | None = None
    clickhouse_url: str | None = Field(default=None, pattern=r"^https?://")
    projection_service_url: str | None = Field(default=None, pattern=r"^https?://")
    cache_warm_concurrency: int = Field(default=5, ge=1, le=100)
    hot_served_queries_file: Path | None = None
