"""Garbage-collector pauses, measured with ``gc.callbacks``, and kept short by freezing.

Every collection's duration is timed (start → stop callback) per generation; the largest,
the total and the recent ones (for a p99) are kept. The callbacks cost two
``perf_counter`` calls per collection, nothing per allocation.

Why pauses were long (decision 0005, measured with the bench's GC trace): a collection
costs about 0.5 µs per object it walks. CPython 3.11 runs a full collection once gen 1
was collected ``threshold2`` (10) times and the objects promoted since the last full one
exceed a quarter of what that one kept. With everything frozen after each full
collection, a full one walks what ten gen-1 collections promoted: 45,000 to 65,000
objects while connections open (each accepted connection keeps dozens), 20 to 60 ms.

What is done:

- **Freeze after every full collection** (``gc.freeze()`` in the stop callback): at that
  instant the young generations are empty and every unreachable cycle was just
  collected, so only live objects are frozen and no later collection walks them.
- **Smaller, more frequent older collections** (thresholds 700, 5, 1): gen 1 every five
  gen-0 collections, a full one after every two gen-1 collections. A full one walks
  what about fifteen gen-0 collections left alive (5,000 to 15,000 objects, a few ms)
  instead of a hundred's worth; each surviving object is still walked about three
  times before it is frozen, so the collector's total work hardly changes.
- **Re-base after freezing**: the "a quarter of what the last full collection kept" rule
  counts the frozen objects (after the start-up freeze: the whole start-up heap), which
  would let promoted objects pile up to a quarter of that before the next full one. One
  collection of the (nearly empty) unfrozen heap, scheduled on the event loop right
  after the freeze, resets that count to about nothing (``gc.freeze()`` does not).

The price of freezing: an object frozen and later dropped is freed by its reference
count only, so what a connection holds must not form reference cycles once it closes
(the WebSocket socket and its connection let go of each other on close; tested, and a
test opens and closes connections repeatedly and checks the frozen set stays bounded).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque
from typing import Any

__all__ = ["THRESHOLDS", "GcPauses"]

_RECENT = 1024
_REBASE_TRIES = 100

# gen 0 as CPython's default; gen 1 every 5 gen-0 collections, gen 2 after two gen-1 ones.
THRESHOLDS = (700, 5, 1)


class GcPauses:
    """Collections and their pauses since :meth:`start`; freezing and thresholds while started."""

    def __init__(
        self, *, freeze: bool = True, thresholds: tuple[int, int, int] | None = THRESHOLDS
    ) -> None:
        self.collections = [0, 0, 0]
        self.total_ms = 0.0
        self.max_ms = 0.0
        self.recent: deque[float] = deque(maxlen=_RECENT)
        self._started = 0.0
        self._installed = False
        self.freeze = freeze
        self.freezes = 0
        self.thresholds = thresholds
        self._previous: tuple[int, int, int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rebasing = False
        self._rebase_due = False

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
            if not self._rebasing and not self._rebase_due and self._loop is not None:
                # gc.collect() cannot run inside a collection: on the next loop turn. A
                # collection may run in any thread (an executor's too), hence threadsafe.
                self._rebase_due = True
                try:
                    self._loop.call_soon_threadsafe(self.rebase)
                except RuntimeError:  # the loop is closed: nothing left to re-base
                    self._rebase_due = False

    def rebase(self, tries: int = _REBASE_TRIES) -> None:
        """Collect the unfrozen heap once, so the next full collection is due by count only."""
        self._rebase_due = False
        if not self._installed:
            return
        done = self.collections[2]
        self._rebasing = True
        try:
            gc.collect()
        finally:
            self._rebasing = False
        if self.collections[2] == done and tries > 1 and self._loop is not None:
            # gc.collect() returns at once while another thread is still collecting (the
            # one whose callback scheduled this): again shortly.
            self._rebase_due = True
            self._loop.call_later(0.001, self.rebase, tries - 1)

    def start(self) -> None:
        """Install the callback (once) and the thresholds; re-bases on the running loop."""
        if self._installed:
            return
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        gc.callbacks.append(self._callback)
        self._installed = True
        if self.thresholds is not None:
            self._previous = gc.get_threshold()
            gc.set_threshold(*self.thresholds)

    def stop(self) -> None:
        """Remove the callback and put the thresholds back."""
        if self._installed:
            gc.callbacks.remove(self._callback)
            self._installed = False
            self._loop = None
            if self._previous is not None:
                gc.set_threshold(*self._previous)
                self._previous = None

    def report(self) -> dict[str, Any]:
        """Counts per generation, total, max and p99 of the recent pauses (milliseconds).

        Nothing here walks the heap: ``gc.get_freeze_count()`` counts the permanent
        generation one object at a time (tens of ms with 10,000 connections), so the frozen
        objects are not counted on ``/stats``.
        """
        recent = sorted(self.recent)
        p99 = recent[min(len(recent) - 1, int(len(recent) * 0.99))] if recent else 0.0
        return {
            "collections": {f"gen{i}": n for i, n in enumerate(self.collections)},
            "total_pause_ms": round(self.total_ms, 3),
            "max_pause_ms": round(self.max_ms, 3),
            "p99_pause_ms": round(p99, 3),
            "thresholds": list(gc.get_threshold()),
            "freezes_after_full_collections": self.freezes,
        }
