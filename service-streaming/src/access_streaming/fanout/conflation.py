"""Conflation by rate: at most ``max_rate`` messages per second per key, newest value wins.

One :class:`Conflater` belongs to one hub group (the subscribers of a topic that share a
filter and a ``max_rate``), so the work is done once per group, never per subscriber. A
message whose key was sent less than ``1 / max_rate`` seconds ago is kept as the key's
pending value (replacing, and counting as conflated, any older pending one); a timer sends
the pending value when the interval is over. Messages without a key are never conflated.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from access_streaming.fanout.frames import DataFrame

__all__ = ["Conflater"]


class Conflater:
    """Per-key rate limit with newest-value-wins for one group of subscribers."""

    __slots__ = ("_count", "_deliver", "_last", "_pending", "_timers", "interval")

    def __init__(
        self,
        max_rate: float,
        deliver: Callable[[DataFrame], None],
        count: Callable[[str], None],
    ) -> None:
        self.interval = 1.0 / max_rate
        self._deliver = deliver
        self._count = count
        self._last: dict[object, float] = {}
        self._pending: dict[object, DataFrame] = {}
        self._timers: dict[object, asyncio.TimerHandle] = {}

    def offer(self, frame: DataFrame) -> None:
        """Send now, or keep as the key's newest pending value."""
        key = frame.key
        if key is None:
            self._deliver(frame)
            return
        now = time.monotonic()
        due = self._last.get(key, 0.0) + self.interval
        if now >= due and key not in self._pending:
            self._last[key] = now
            self._deliver(frame)
            return
        if self._pending.get(key) is not None:
            self._count(frame.message.topic)
        self._pending[key] = frame
        if key not in self._timers:
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_at(loop.time() + max(0.0, due - now), self._flush, key)

    def _flush(self, key: object) -> None:
        self._timers.pop(key, None)
        frame = self._pending.pop(key, None)
        if frame is not None:
            self._last[key] = time.monotonic()
            self._deliver(frame)

    def close(self) -> None:
        """Cancel pending sends (the group has no members left)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._pending.clear()
