"""Fixed-window rate limits on the key-value backend, shared by every replica.

With Redis, ``INCR`` on ``rl:<key>:<window>:<index>`` makes one budget for all replicas.
When the backend fails, the limiter switches at once to a per-replica budget that is
already warm: it starts from the last count the shared store gave for that key and lets
this replica use its share (``1 / replicas``) of what was left. It marks itself
degraded, counts the switch, retries the backend every ``retry_seconds`` and, once it
answers, returns to the shared budget (carrying over the hits it counted alone).
Known gateways either fail open or answer 500 here; neither is acceptable at the edge.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from access_common.backends.kv import KeyValue
from access_common.errors import BackendError

__all__ = ["Limit", "RateDecision", "RateLimiter"]

logger = logging.getLogger("access_common.ratelimit")

# Mirror entries of windows older than this many windows are pruned.
_PRUNE_EVERY = 4096


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``requests`` per ``window_seconds``."""

    requests: int
    window_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window_seconds <= 0:
            raise ValueError("a limit needs requests >= 1 and window_seconds > 0")


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The answer for one hit, with what the RateLimit headers need."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    retry_after: float

    def headers(self) -> dict[str, str]:
        """``RateLimit-Limit``, ``-Remaining``, ``-Reset`` and, when refused, ``Retry-After``."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_seconds)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


@dataclass(slots=True)
class _Mirror:
    shared: int = 0  # the last count the shared store answered
    local: int = 0  # hits counted here since the store stopped answering


class RateLimiter:
    """Count hits per key and window; one shared budget, a warm local one when it fails."""

    def __init__(
        self,
        kv: KeyValue | None,
        *,
        prefix: str = "rl",
        replicas: int = 1,
        retry_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self._prefix = prefix
        self.replicas = max(1, replicas)
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._mirror: dict[str, _Mirror] = {}
        self._down_since: float | None = None if kv is not None else 0.0
        self._next_try = 0.0
        self.switches = 0  # shared -> local switches, for the service's metrics

    @property
    def degraded(self) -> bool:
        """True while a configured shared store is not answering."""
        return self._kv is not None and self._down_since is not None

    async def hit(self, key: str, limit: Limit, cost: int = 1) -> RateDecision:
        """Count ``cost`` hits on ``key`` and say whether they fit in ``limit``."""
        now = self._clock()
        window = limit.window_seconds
        index = int(now // window)
        reset = (index + 1) * window - now
        bucket = f"{self._prefix}:{key}:{window:g}:{index}"
        mirror = self._mirror.get(bucket)
        if mirror is None:
            if len(self._mirror) >= _PRUNE_EVERY:
                self._prune(now)
            mirror = self._mirror[bucket] = _Mirror()
        if self._kv is not None and (
            self._down_since is None or self._monotonic() >= self._next_try
        ):
            if self._down_since is not None:
                # One probe at a time: hits arriving while it is out stay local instead
                # of all waiting on a store that may be hanging.
                self._next_try = self._monotonic() + self._retry_seconds
            try:
                # A window key lives one window past its end, so a late replica's INCR
                # never resurrects it with a fresh TTL of a full window.
                count = await self._kv.incr(bucket, cost + mirror.local, ttl=2 * window)
            except BackendError as exc:
                self._fail(exc)
            else:
                self._recover()
                mirror.shared, mirror.local = count, 0
                return self._decide(count, limit.requests, reset)
        mirror.local += cost
        left_when_lost = max(0, limit.requests - mirror.shared)
        share = left_when_lost if self._kv is None else left_when_lost // self.replicas
        used = mirror.local
        # Expressed against the full limit so the headers read the same in both modes.
        return self._decide(limit.requests - share + used, limit.requests, reset)

    @staticmethod
    def _decide(count: int, requests: int, reset: float) -> RateDecision:
        allowed = count <= requests
        return RateDecision(
            allowed=allowed,
            limit=requests,
            remaining=max(0, requests - count),
            reset_seconds=reset,
            retry_after=0.0 if allowed else reset,
        )

    def _fail(self, exc: BackendError) -> None:
        if self._down_since is None:
            self._down_since = self._monotonic()
            self.switches += 1
            logger.warning(
                "rate-limit store unavailable; using this replica's share of the budget",
                extra={"code": exc.code},
            )
        self._next_try = self._monotonic() + self._retry_seconds

    def _recover(self) -> None:
        if self._down_since is not None:
            self._down_since = None
            logger.info("rate-limit store back; shared budget restored")

    def _prune(self, now: float) -> None:
        for bucket in list(self._mirror):
            _, window_text, index_text = bucket.rsplit(":", 2)
            try:
                window, index = float(window_text), int(index_text)
            except ValueError:  # pragma: no cover - keys are built above
                continue
            if (index + 1) * window < now:
                del self._mirror[bucket]
