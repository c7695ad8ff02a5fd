"""Process entry point: `access-auth` or `python -m access_auth`."""

from __future__ import annotations

from access_auth.settings import AuthSettings
from access_common.run import serve

__all__ = ["run"]


def run() -> None:
    """Start the auth service with settings from the environment."""
    serve("access_auth.app:create_app", AuthSettings, service="auth")
