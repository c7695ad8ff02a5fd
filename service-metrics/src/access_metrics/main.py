"""Process entry point: `access-metrics` or `python -m access_metrics`."""

from __future__ import annotations

from access_common.run import serve
from access_metrics.settings import MetricsSettings

__all__ = ["run"]


def run() -> None:
    """Start the metrics service with settings from the environment."""
    serve("access_metrics.app:create_app", MetricsSettings, service="metrics")
