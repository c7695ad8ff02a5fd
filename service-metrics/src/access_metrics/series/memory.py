"""The in-process store: the embedded default (one replica, nothing survives a restart)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from access_metrics.series.model import FamilySpec, FamilyState, MetricType, Op

__all__ = ["MemorySeriesStore"]


class MemorySeriesStore:
    """Series aggregated in this process's memory."""

    name = "memory"

    def __init__(self) -> None:
        self._states: dict[str, FamilyState] = {}

    async def start(self) -> list[FamilySpec]:
        """Nothing to load."""
        return []

    async def families(self) -> list[FamilySpec]:
        """Nothing beyond what the registry holds."""
        return []

    async def register(self, spec: FamilySpec) -> FamilySpec:
        """Registration is local: the registry already checked the name."""
        self._states.setdefault(spec.name, FamilyState(spec))
        return self._states[spec.name].spec

    async def apply(self, ops: Sequence[Op], max_series: int) -> list[int]:
        """Aggregate; a new series of a family at ``max_series`` is refused."""
        refused: list[int] = []
        states = self._states
        counter, gauge = MetricType.COUNTER, MetricType.GAUGE
        for spec, key, value, at in ops:
            state = states[spec.name]
            kind = spec.type
            if kind is counter or kind is gauge:
                values = state.values
                if key in values:
                    values[key] = values[key] + value if kind is counter else value
                    continue
                if len(values) < max_series:
                    values[key] = value
                    continue
            else:
                # Inlined FamilyState.apply: per-bucket counts, then the sum, then the count.
                histograms = state.histograms
                counts = histograms.get(key)
                if counts is None and len(histograms) < max_series:
                    counts = histograms[key] = [0.0] * (len(spec.buckets) + 3)
                if counts is not None:
                    counts[bisect_left(spec.buckets, value)] += 1
                    counts[-2] += value
                    counts[-1] += 1
                    continue
            refused.append(at)
        return refused

    async def snapshot(self, known: Sequence[FamilySpec]) -> list[FamilyState]:
        """The live states (rendered before the next await, so consistent)."""
        return list(self._states.values())

    async def exporting(self) -> bool:
        """The only replica always exports."""
        return True

    async def ping(self) -> None:
        """Always reachable."""

    async def close(self) -> None:
        """Nothing to release."""
