"""Garbage-collector pauses, measured with ``gc.callbacks``, for ``/stats`` and the benchmark.

Every collection's duration is timed (start → stop callback) per generation; the largest,
the total and the recent ones (for a p99) are kept. The callbacks cost two
``perf_counter`` calls per collection, nothing per allocation.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from typing import Any

__all__ = ["GcPauses"]

_RECENT = 1024


class GcPauses:
    """Collections and their pauses since :meth:`start`."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.total_ms = 0.0
        self.max_ms = 0.0
        self.recent: deque[float] = deque(maxlen=_RECENT)
        self._started = 0.0
        self._installed = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        if not self._started:
            return
        pause = (time.perf_counter() - self._started) * 1000.0
        self._started = 0.0
        generation = int(info.get("generation", 0))
        if 0 <= generation < 3:
            self.collections[generation] += 1
        self.total_ms += pause
        self.max_ms = max(self.max_ms, pause)
        self.recent.append(pause)

    def start(self) -> None:
        """Install the callback (once)."""
        if not self._installed:
            gc.callbacks.append(self._callback)
            self._installed = True

    def stop(self) -> None:
        """Remove the callback."""
        if self._installed:
            gc.callbacks.remove(self._callback)
            self._installed = False

    def report(self) -> dict[str, Any]:
        """Counts per generation, total, max and p99 of the recent pauses (milliseconds)."""
        recent = sorted(self.recent)
        p99 = recent[min(len(recent) - 1, int(len(recent) * 0.99))] if recent else 0.0
        return {
            "collections": {f"gen{i}": n for i, n in enumerate(self.collections)},
            "total_pause_ms": round(self.total_ms, 3),
            "max_pause_ms": round(self.max_ms, 3),
            "p99_pause_ms": round(p99, 3),
            "thresholds": list(gc.get_threshold()),
            "frozen_objects": gc.get_freeze_count(),
        }
