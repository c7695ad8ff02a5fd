"""Adaptive TTL per route (seed 001 §15): longer when busy and healthy, shorter otherwise."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["AdaptiveTtl"]

# At this many requests per second on a route its entries get the longest TTL.
_BUSY_RPS = 5.0
# The request rate is an exponentially weighted average over about this many seconds.
_HALF_LIFE = 30.0
# An upstream error shortens the TTL to the minimum for this long.
_ERROR_COOL_DOWN = 60.0


class AdaptiveTtl:
    """Track one route's traffic and upstream errors; answer the TTL to store an entry with."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rate = 0.0
        self._last = clock()
        self._last_error = -math.inf

    def request(self) -> None:
        """Note one request on the route."""
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        decay = 0.5 ** (elapsed / _HALF_LIFE)
        self._rate = self._rate * decay + (1 - decay) * (1 / max(elapsed, 1e-3))
        self._last = now

    def error(self) -> None:
        """Note an upstream failure on the route."""
        self._last_error = self._clock()

    def ttl(self, ttl_min: float, ttl_max: float) -> float:
        """The TTL to use now, between the bounds."""
        if self._clock() - self._last_error < _ERROR_COOL_DOWN:
            return ttl_min
        busy = min(1.0, self._rate / _BUSY_RPS)
        return ttl_min + (ttl_max - ttl_min) * busy
