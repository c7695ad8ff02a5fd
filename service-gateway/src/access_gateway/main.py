"""Process entry point: `access-gateway` or `python -m access_gateway`."""

from __future__ import annotations

import sys

from access_common.run import serve
from access_common.settings import SettingsError, load_settings
from access_gateway.runtime import ConfigError, check_configuration
from access_gateway.settings import GatewaySettings

__all__ = ["run"]


def run() -> None:
    """Check the route table and limits, then start the gateway with settings from the env."""
    try:
        check_configuration(load_settings(GatewaySettings))
    except SettingsError:
        pass  # serve() reports it, naming the variable
    except ConfigError as exc:
        print(f"gateway: invalid configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    serve("access_gateway.app:create_app", GatewaySettings, service="gateway")
