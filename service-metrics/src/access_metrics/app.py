"""The metrics service app factory."""

from __future__ import annotations

from fastapi import FastAPI

from access_common.app import build_app
from access_common.http import HttpClient
from access_common.lifecycle import Resources
from access_common.settings import load_settings
from access_metrics.settings import MetricsSettings

__all__ = ["create_app"]

SERVICE = "metrics"


def create_app(
    settings: MetricsSettings | None = None, *, resources: Resources | None = None
) -> FastAPI:
    """Build the metrics service: ingestion from edge services (arrives with its issue)."""
    settings = settings or load_settings(MetricsSettings)
    resources = resources or Resources(http=HttpClient.from_settings(settings))
    return build_app(
        settings,
        service=SERVICE,
        title="254Carbon Access Metrics",
        description="Counter ingestion from edge services and the Prometheus scrape endpoint.",
        resources=resources,
    )
