"""What the metrics service holds for its lifetime: the family registry, the store, limits."""

from __future__ import annotations

import logging

from access_common.errors import AccessError
from access_metrics.ingest.validation import Limits, SampleValidator
from access_metrics.own_metrics import IngestMetrics
from access_metrics.series.memory import MemorySeriesStore
from access_metrics.series.model import FamilySpec, FamilyState
from access_metrics.series.redis import RedisSeriesStore
from access_metrics.series.registry import FamilyRegistry
from access_metrics.series.store import SeriesStore
from access_metrics.settings import MetricsSettings

__all__ = ["MetricsRuntime", "make_store"]

logger = logging.getLogger("access_metrics")


def make_store(settings: MetricsSettings) -> SeriesStore:
    """Redis when ``ACCESS_REDIS_URL`` is set (shared, durable), otherwise in-process."""
    if settings.redis_url:
        return RedisSeriesStore(
            settings.redis_url,
            prefix=settings.metrics_redis_prefix,
            replica=settings.metrics_replica_id,
            lease_seconds=settings.metrics_export_lease_seconds,
            ssl=settings.redis_ssl_enabled,
        )
    return MemorySeriesStore()


class MetricsRuntime:
    """The registry of pushed families, where their series live, and the service's counters."""

    def __init__(self, settings: MetricsSettings, store: SeriesStore, own: IngestMetrics) -> None:
        self.settings = settings
        self.store = store
        self.own = own
        self.registry = FamilyRegistry(
            max_families=settings.metrics_max_families, reserved=own.reserved_names()
        )
        self.validator = SampleValidator(
            self.registry,
            store.register,
            store.families,
            Limits(
                max_labels=settings.metrics_max_labels,
                max_label_value_length=settings.metrics_max_label_value_length,
            ),
        )

    async def start(self) -> None:
        """Load the families already stored; a store that is down leaves the service degraded."""
        try:
            specs = await self.store.start()
        except AccessError as exc:
            logger.warning("%s unavailable at start; serving degraded", self.store.name,
                           extra={"code": exc.code})  # fmt: skip
            return
        self.learn(specs)

    def learn(self, specs: list[FamilySpec]) -> None:
        """Add families registered elsewhere (another replica, an earlier run)."""
        for spec in specs:
            self.registry.add(spec)

    async def snapshot(self) -> tuple[list[FamilyState], bool]:
        """The pushed states to expose (none unless this replica exports) and the flag."""
        try:
            if not await self.store.exporting():
                return [], False
            states = await self.store.snapshot(self.registry.families())
        except AccessError as exc:
            # The scrape still gets this replica's own metrics (refusals, latency).
            logger.warning("pushed series not exposed: %s", exc.code, extra={"code": exc.code})
            return [], False
        self.learn([state.spec for state in states])
        return states, True
