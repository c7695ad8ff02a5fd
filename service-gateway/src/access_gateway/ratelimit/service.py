"""Apply a route's tier: one hit on the shared limiter, headers, 429 when spent.

The counters live on the key-value backend under ``rl:<tier>:<ip|user>:...`` so every
replica shares one budget; :class:`~access_common.ratelimit.RateLimiter` switches to a
warm per-replica share when the store is lost. This module also estimates how many
replicas share the budget (each replica checks in under ``rl:replicas:<period>``), so
that share is right without configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from prometheus_client import Counter

from access_common.backends.kv import KeyValue
from access_common.errors import BackendError
from access_common.ratelimit import RateDecision, RateLimiter
from access_gateway.errors import RateLimitExceeded
from access_gateway.metrics import GatewayMetrics
from access_gateway.ratelimit.tiers import TierTable

__all__ = ["RateLimits"]

logger = logging.getLogger("access_gateway.ratelimit")

_CHECK_IN_SECONDS = 10.0


class RateLimits:
    """The current tier table in front of the shared limiter."""

    def __init__(
        self,
        limiter: RateLimiter,
        tiers: TierTable,
        metrics: GatewayMetrics,
        *,
        kv: KeyValue | None = None,
        min_replicas: int = 1,
    ) -> None:
        self.limiter = limiter
        self.tiers = tiers
        self._metrics = metrics
        self._kv = kv
        self._min_replicas = min_replicas
        self._switches_seen = 0
        self._store_calls_seen = 0
        self._refill_errors_seen = 0
        self._allowed: dict[str, Counter] = {}  # per tier: labels() costs a lock per call
        self._task: asyncio.Task[None] | None = None
        limiter.replicas = max(limiter.replicas, min_replicas)
        metrics.ratelimit_degraded.set_function(lambda: float(limiter.degraded))

    async def hit(self, tier_name: str, subject: str) -> RateDecision:
        """Count one request of ``subject`` (an IP or a user) in the tier; 429 when spent."""
        tier = self.tiers[tier_name]
        decision = await self.limiter.hit(f"{tier_name}:{subject}", self.tiers.limits[tier_name])
        limiter = self.limiter
        if limiter.switches != self._switches_seen:
            self._metrics.ratelimit_switches.inc(limiter.switches - self._switches_seen)
            self._switches_seen = limiter.switches
        if limiter.store_calls != self._store_calls_seen:
            self._metrics.ratelimit_store_calls.inc(limiter.store_calls - self._store_calls_seen)
            self._store_calls_seen = limiter.store_calls
        if limiter.refill_errors != self._refill_errors_seen:
            self._metrics.ratelimit_refill_errors.inc(
                limiter.refill_errors - self._refill_errors_seen
            )
            self._refill_errors_seen = limiter.refill_errors
        if not decision.allowed:
            self._metrics.ratelimit_decisions.labels(tier_name, "limited").inc()
            raise RateLimitExceeded(
                details={
                    "tier": tier_name,
                    "limit": tier.requests,
                    "window_seconds": tier.window_seconds,
                    "retry_after_seconds": int(decision.headers()["Retry-After"]),
                },
                headers=decision.headers(),
            )
        allowed = self._allowed.get(tier_name)
        if allowed is None:
            allowed = self._allowed[tier_name] = self._metrics.ratelimit_decisions.labels(
                tier_name, "allowed"
            )
        allowed.inc()
        return decision

    def start(self) -> None:
        """Begin checking in, so each replica knows how many share the budget."""
        if self._kv is not None and self._task is None:
            self._task = asyncio.create_task(self._check_in_loop(), name="rl-replicas")

    async def aclose(self) -> None:
        """Stop checking in."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _check_in_loop(self) -> None:
        while True:
            await self.check_in()
            await asyncio.sleep(_CHECK_IN_SECONDS)

    async def check_in(self, now: float | None = None) -> None:
        """Count this replica in the current period; take the last full period's count."""
        if self._kv is None:
            return
        period = int((time.time() if now is None else now) // _CHECK_IN_SECONDS)
        try:
            await self._kv.incr(f"rl:replicas:{period}", 1, ttl=3 * _CHECK_IN_SECONDS)
            previous = await self._kv.get(f"rl:replicas:{period - 1}")
        except BackendError:
            return  # keep the last estimate: it is what the local share needs now
        if previous is not None:
            self.limiter.replicas = max(self._min_replicas, int(previous))
