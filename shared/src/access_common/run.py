"""Process entry point shared by the five services: settings, logging, uvicorn."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from access_common.log import logging_config
from access_common.metrics import MULTIPROC_DIR_VARIABLE, multiprocess_dir
from access_common.settings import ServiceSettings, SettingsError, load_settings

__all__ = ["prepare_metrics_dir", "serve"]


def serve(
    app_factory: str,
    settings_cls: type[ServiceSettings],
    *,
    service: str,
    uvicorn_options: Callable[[Any], dict[str, Any]] | None = None,
) -> None:
    """Validate settings, configure JSON logs and run uvicorn until SIGINT/SIGTERM.

    ``app_factory`` is an import string (``access_auth.app:create_app``) so uvicorn can
    start several workers; each worker reads the same settings again. With more than one
    worker the metrics of all of them go through one folder (:func:`prepare_metrics_dir`).
    ``uvicorn_options`` maps the settings to extra uvicorn options (streaming: WebSocket
    pings and sizes).
    """
    try:
        settings = load_settings(settings_cls)
    except SettingsError as exc:
        print(f"{service}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if settings.workers > 1 or multiprocess_dir() is not None:
        prepare_metrics_dir(settings.state_dir / "metrics" / f"{service}-{settings.port}")
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


def prepare_metrics_dir(default: Path) -> Path:
    """Point prometheus-client's multiprocess mode at a folder emptied of a past run's files.

    ``PROMETHEUS_MULTIPROC_DIR`` when the operator sets it, else ``default``. Set before
    the workers start, so each one (a fresh interpreter) counts into files there. Only
    prometheus-client's own ``*.db`` files are removed, whatever folder is named.
    """
    folder = Path(multiprocess_dir() or default)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_DIR_VARIABLE] = str(folder)
    return folder
