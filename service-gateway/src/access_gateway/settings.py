"""Gateway configuration (``ACCESS_*``)."""

from __future__ import annotations

from pydantic import Field

from access_common.settings import KvSettings, PeerSettings, ServiceSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings, KvSettings, PeerSettings):
    """Everything the gateway reads: its port, the cache/counter store and its peers."""

    port: int = Field(default=8000, ge=1, le=65535)
