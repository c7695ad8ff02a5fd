"""The adaptive decision TTL of seed 001 §15: 30-120 s, shorter when unsure, longer when steady.

Per window (10 s) the cache hit ratio is measured. The TTL is the minimum after any
backend error in the last minute ("error bursts") and under low traffic (fewer checks
than one a second), where a long TTL buys little and keeps a decision alive longest.
Otherwise it grows with the hit ratio, scaled down when the ratio moved a lot since
the previous window (not yet "stable"). Policy versions, not the TTL, are what make
rule changes effective at once; the TTL bounds what a lost version message can cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["AdaptiveTtl"]

_WINDOW = 10.0
_ERROR_MEMORY = 60.0


class AdaptiveTtl:
    """Counts hits, misses and errors; answers the TTL for the next decision."""

    def __init__(
        self,
        minimum: int = 30,
        maximum: int = 120,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[int], None] | None = None,
    ) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self._clock = clock
        self._on_change = on_change
        self._window_start = clock()
        self._hits = 0
        self._misses = 0
        self._last_error = float("-inf")
        self._ratio: float | None = None
        self._ttl = minimum
        if on_change is not None:
            on_change(minimum)

    def hit(self) -> None:
        """A decision was served from a cache."""
        self._hits += 1

    def miss(self) -> None:
        """A decision had to be evaluated."""
        self._misses += 1

    def error(self) -> None:
        """A backend failed while deciding."""
        self._last_error = self._clock()
        self._set(self.minimum)

    def current(self) -> int:
        """The TTL in whole seconds for a decision made now."""
        now = self._clock()
        if now - self._window_start >= _WINDOW:
            self._roll(now)
        return self._ttl

    def _roll(self, now: float) -> None:
        elapsed = now - self._window_start
        total = self._hits + self._misses
        ratio = self._hits / total if total else 0.0
        previous, self._ratio = self._ratio, ratio
        self._window_start, self._hits, self._misses = now, 0, 0
        if now - self._last_error < _ERROR_MEMORY or total < elapsed or previous is None:
            self._set(self.minimum)
            return
        stability = max(0.0, 1.0 - 4.0 * abs(ratio - previous))
        span = self.maximum - self.minimum
        self._set(self.minimum + round(span * ratio * stability))

    def _set(self, ttl: int) -> None:
        if ttl != self._ttl:
            self._ttl = ttl
            if self._on_change is not None:
                self._on_change(ttl)
