"""Garbage-collector pauses, measured with ``gc.callbacks``, and kept short by freezing.

Every collection's duration is timed (start → stop callback) per generation; the largest,
the total and the recent ones (for a p99) are kept. The callbacks cost two
``perf_counter`` calls per collection, nothing per allocation.

Freezing (decision 0005): at the end of every full (generation 2) collection, everything
still alive is moved to the permanent generation with ``gc.freeze()``. At that instant
the young generations are empty and every unreachable cycle was just collected, so
nothing dead is frozen. Connections, subscriptions and their objects live long; without
this, each full collection walks all of them (10,000 connections: hundreds of thousands of
objects, pauses of 100 ms and more), and full collections recur while connections are
opened. With it, a full collection walks only what was allocated since the previous one.
The price: an object frozen and later dropped is freed by its reference count only, so
what a connection holds must not form reference cycles once it closes (the WebSocket
socket and its connection let go of each other on close; tested).
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

    def __init__(self, *, freeze: bool = True) -> None:
        self.collections = [0, 0, 0]
        self.total_ms = 0.0
        self.max_ms = 0.0
        self.recent: deque[float] = deque(maxlen=_RECENT)
        self._started = 0.0
        self._installed = False
        self.freeze = freeze
        self.freezes = 0

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
        if generation == 2 and self.freeze:
            # Survivors of a full collection are live and the young generations are empty.
            gc.freeze()
            self.freezes += 1

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
            "freezes_after_full_collections": self.freezes,
        }
