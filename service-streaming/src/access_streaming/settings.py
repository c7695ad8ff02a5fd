"""Streaming configuration (``ACCESS_*``, seed 003's table)."""

from __future__ import annotations

from pydantic import Field

from access_common.settings import BusSettings, PeerSettings, ServiceSettings

__all__ = ["StreamingSettings"]


class StreamingSettings(ServiceSettings, BusSettings, PeerSettings):
    """Everything streaming reads: its port, the buses, its peers and connection limits."""

    port: int = Field(default=8001, ge=1, le=65535)
    max_ws_connections: int = Field(default=1000, ge=1)
    max_sse_connections: int = Field(default=500, ge=1)
    heartbeat_timeout: float = Field(default=30.0, gt=0)
