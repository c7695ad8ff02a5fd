"""Process entry point: `access-gateway` or `python -m access_gateway`."""

from __future__ import annotations

from access_common.run import serve
from access_gateway.settings import GatewaySettings

__all__ = ["run"]


def run() -> None:
    """Start the gateway service with settings from the environment."""
    serve("access_gateway.app:create_app", GatewaySettings, service="gateway")
