"""Process entry point shared by the five services: settings, logging, uvicorn."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import uvicorn

from access_common.log import logging_config
from access_common.settings import ServiceSettings, SettingsError, load_settings

__all__ = ["serve"]


def serve(
    app_factory: str,
    settings_cls: type[ServiceSettings],
    *,
    service: str,
    uvicorn_options: Callable[[Any], dict[str, Any]] | None = None,
) -> None:
    """Validate settings, configure JSON logs and run uvicorn until SIGINT/SIGTERM.

    ``app_factory`` is an import string (``access_auth.app:create_app``) so uvicorn can
    start several workers; each worker reads the same settings again. ``uvicorn_options``
    maps the settings to extra uvicorn options (streaming: WebSocket pings and sizes).
    """
    try:
        settings = load_settings(settings_cls)
    except SettingsError as exc:
        print(f"{service}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=logging_config(service, settings.log_level),
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        **(uvicorn_options(settings) if uvicorn_options is not None else {}),
    )
