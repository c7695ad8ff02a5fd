"""Metrics service configuration (``ACCESS_*``)."""

from __future__ import annotations

import socket

from pydantic import Field

from access_common.settings import KvSettings, ServiceSettings

__all__ = ["MetricsSettings"]


class MetricsSettings(ServiceSettings, KvSettings):
    """Port, Redis (shared totals across replicas and restarts) and ingestion limits."""

    port: int = Field(default=8012, ge=1, le=65535)
    metrics_max_series_per_metric: int = Field(
        default=1000, ge=1, le=1_000_000, description="Label sets one metric may hold"
    )
    metrics_max_families: int = Field(default=1000, ge=1, le=100_000)
    metrics_max_batch_samples: int = Field(default=1000, ge=1, le=100_000)
    metrics_max_labels: int = Field(default=16, ge=0, le=64)
    metrics_max_label_value_length: int = Field(default=256, ge=1, le=16_384)
    metrics_redis_prefix: str = Field(default="access:metrics", pattern=r"^[A-Za-z0-9:_.-]+$")
    metrics_replica_id: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        description="This replica's name in the export lease (the pod name in Kubernetes)",
    )
    metrics_export_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
