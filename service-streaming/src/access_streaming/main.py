"""Process entry point: `access-streaming` or `python -m access_streaming`."""

from __future__ import annotations

from typing import Any

from access_common.run import serve
from access_streaming.settings import StreamingSettings

__all__ = ["run", "uvicorn_options"]


def uvicorn_options(settings: StreamingSettings) -> dict[str, Any]:
    """The uvicorn WebSocket options from the streaming settings.

    ``ws`` is the service's own protocol class for ``/ws/stream`` (pre-built frames written
    straight to the transport, decision 0005); it reads the other ``ws_*`` options.
    Protocol pings every half heartbeat timeout, and a peer that does not answer within
    the other half is closed (dead peers reaped). No per-message deflate: it would
    compress every frame once per subscriber. Frames above 16 client-message limits are
    refused by the server itself (1009); up to that the service answers MESSAGE_TOO_LARGE.
    """
    half = settings.heartbeat_timeout / 2
    return {
        # httptools, minus the parser cycle an upgraded connection would leave (GC: frozen).
        "http": "access_streaming.connections.upgrade:UpgradeReleasingHttp",
        "ws": "access_streaming.ws.socket:StreamSocket",
        "ws_ping_interval": half,
        "ws_ping_timeout": half,
        "ws_per_message_deflate": False,
        "ws_max_size": max(65_536, 16 * settings.max_client_message_bytes),
    }


def run() -> None:
    """Start the streaming service with settings from the environment."""
    serve(
        "access_streaming.app:create_app",
        StreamingSettings,
        service="streaming",
        uvicorn_options=uvicorn_options,
    )
