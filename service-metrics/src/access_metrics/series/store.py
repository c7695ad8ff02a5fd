"""Where aggregated series live: one interface, in-process or Redis (shared by replicas)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from access_metrics.series.model import FamilySpec, FamilyState, Op

__all__ = ["SeriesStore"]


class SeriesStore(Protocol):
    """Aggregated series of every pushed family.

    Every method raises :class:`access_common.errors.BackendError` when the storage
    cannot be reached; nothing is applied then.
    """

    name: str

    async def start(self) -> list[FamilySpec]:
        """Connect if needed; return the families already stored (empty in memory)."""
        ...

    async def families(self) -> list[FamilySpec]:
        """Every family registered by any replica (empty in memory: the registry has them)."""
        ...

    async def register(self, spec: FamilySpec) -> FamilySpec:
        """Register a new family; return the stored one (another replica's may differ)."""
        ...

    async def apply(self, ops: Sequence[Op], max_series: int) -> list[int]:
        """Aggregate the ops atomically; return the indexes refused by the series cap."""
        ...

    async def snapshot(self, known: Sequence[FamilySpec]) -> list[FamilyState]:
        """The state of every family: ``known`` ones and other replicas', for one scrape."""
        ...

    async def exporting(self) -> bool:
        """True when this replica exposes the pushed series (one replica at a time)."""
        ...

    async def ping(self) -> None:
        """Return when the storage answers."""
        ...

    async def close(self) -> None:
        """Release connections; idempotent."""
        ...
