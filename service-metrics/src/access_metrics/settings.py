"""Metrics service configuration (``ACCESS_*``)."""

from __future__ import annotations

from pydantic import Field

from access_common.settings import ServiceSettings

__all__ = ["MetricsSettings"]


class MetricsSettings(ServiceSettings):
    """Everything the metrics service reads: its port."""

    port: int = Field(default=8012, ge=1, le=65535)
