"""Streaming configuration (``ACCESS_*``, seed 003's table plus its limits made explicit)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from access_common.settings import BusSettings, KvSettings, PeerSettings, ServiceSettings

__all__ = ["DEFAULT_TOPICS_FILE", "StreamingSettings"]

DEFAULT_TOPICS_FILE = Path(__file__).resolve().parent / "topics" / "topics.toml"


class StreamingSettings(ServiceSettings, BusSettings, KvSettings, PeerSettings):
    """Everything streaming reads: its port, buses, peers, limits and the topic registry."""

    port: int = Field(default=8001, ge=1, le=65535)
    # Seed 003's connection limits. The two totals are per instance (its capacity); the
    # per-user and per-tenant ones are cluster-wide when ACCESS_REDIS_URL is set.
    max_ws_connections: int = Field(default=1000, ge=1)
    max_sse_connections: int = Field(default=500, ge=1)
    max_connections_per_user: int = Field(default=10, ge=1)
    max_connections_per_tenant: int = Field(default=100, ge=1)
    connects_per_minute_per_ip: int = Field(default=30, ge=1)
    # Client -> server messages (subscribe, unsubscribe, ping) per connection.
    client_messages_per_second: int = Field(default=10, ge=1)
    max_client_message_bytes: int = Field(default=4096, ge=256, le=1_048_576)
    # Error messages a connection may earn (malformed, unknown, oversized, too frequent)
    # before it is closed with 1008; the count halves every minute of good behaviour.
    max_client_errors: int = Field(default=10, ge=1)
    max_topics_per_connection: int = Field(default=50, ge=1)
    # WebSocket protocol pings every half of this; a peer silent for it is closed.
    heartbeat_timeout: float = Field(default=30.0, gt=0)
    sse_keepalive_seconds: float = Field(default=15.0, gt=0)
    # Messages waiting for one connection; when full: conflate, then drop with a gap, then
    # close with 4008 (docs/streaming.md, slow consumers).
    outgoing_queue_size: int = Field(default=4096, ge=16)
    # ``token_expiring`` is sent this long before the token's exp (then refresh or 4001).
    token_expiring_seconds: float = Field(default=60.0, ge=0)
    # Every subscription's entitlement is asked again this often (cached decisions count).
    entitlements_recheck_seconds: float = Field(default=15.0, gt=0)
    topics_file: Path = DEFAULT_TOPICS_FILE
    # The development feed publishes moving prices and curves; on by default only in local.
    dev_feed: bool | None = None
    dev_feed_interval_seconds: float = Field(default=0.5, gt=0)

    @property
    def dev_feed_enabled(self) -> bool:
        """Whether the development feed runs (never outside ``local``)."""
        if self.env != "local":
            return False
        return True if self.dev_feed is None else self.dev_feed
