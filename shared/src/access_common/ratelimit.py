"""Fixed-window rate limits on the key-value backend, shared by every replica.

With Redis, ``INCRBY`` on ``rl:<key>:<window>:<index>`` makes one budget for all
replicas. A replica does not ask the store on every hit: it *leases* a block of hits
with one ``INCRBY`` and spends them locally, refilling in the background (one refill in
flight per key) when the block runs low. A hit waits on the store only when this replica
holds no leased hits (the first hit of a key in a window, or a budget nearly spent).
Blocks shrink as the shared count nears the limit (to one hit: an exact ``INCR`` per
hit) so the shared limit stays exact — a block is granted only up to the limit — and
few hits are stranded; leased hits unused at the window's end are lost (conservative).

When the backend fails, the limiter switches at once to a per-replica budget that is
already warm: its unspent lease plus its share (``1 / replicas``) of what the store had
not handed out. It marks itself degraded, counts the switch, retries the backend every
``retry_seconds`` and, once it answers, returns to the shared budget (carrying over the
hits it counted alone). A refill that fails for any other reason (a bug, a client
library's unexpected exception) is treated the same way, logged with its traceback once
per outage and counted in ``refill_errors``: it never escapes as an unretrieved task
exception, and no caller waiting on it sees it. Known gateways either fail open or
answer 500 here; neither is acceptable at the edge.
"""

from __future__ import annotations

import asyncio
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
# The largest block of hits one replica leases at a time.
_MAX_BLOCK = 100


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


class _Mirror:
    """What this replica knows of one key's window."""

    __slots__ = ("lease", "local", "refill", "shared")

    def __init__(self) -> None:
        self.shared = 0  # the last count the shared store answered (our leases included)
        self.lease = 0  # hits reserved in the store for this replica, not spent yet
        self.local = 0  # hits counted here while the store was not answering
        self.refill: asyncio.Task[None] | None = None  # the one store call in flight


def _settle(mirror: _Mirror) -> None:
    """Pay hits counted alone from the unspent lease first: they were within it."""
    paid = min(mirror.lease, mirror.local)
    mirror.lease -= paid
    mirror.local -= paid


class RateLimiter:
    """Count hits per key and window; one shared budget, a warm local one when it fails."""

    def __init__(
        self,
        kv: KeyValue | None,
        *,
        prefix: str = "rl",
        replicas: int = 1,
        retry_seconds: float = 1.0,
        max_block: int = _MAX_BLOCK,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self._prefix = prefix
        self.replicas = max(1, replicas)
        self._retry_seconds = retry_seconds
        self._max_block = max(1, max_block)
        self._clock = clock
        self._monotonic = monotonic
        self._mirror: dict[str, _Mirror] = {}
        self._down_since: float | None = None if kv is not None else 0.0
        self._next_try = 0.0
        self.switches = 0  # shared -> local switches, for the service's metrics
        self.store_calls = 0  # INCRBYs sent to the shared store, for benchmarks
        self.refill_errors = 0  # refills failed by anything but BackendError, for metrics

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
        requests = limit.requests
        while self._kv is not None and self._down_since is None:
            if mirror.local:
                _settle(mirror)
            if mirror.lease >= cost and not mirror.local:
                # The hot path: spend leased hits, no await on the store.
                mirror.lease -= cost
                self._maybe_refill(bucket, mirror, limit)
                return self._decide(mirror.shared - mirror.lease, requests, reset)
            if mirror.refill is None:
                if mirror.shared >= requests:
                    # Counts only grow within a window: the budget is spent everywhere.
                    return self._decide(requests + cost, requests, reset)
                mirror.refill = asyncio.create_task(self._reserve(bucket, mirror, limit, cost))
            # Shielded: a caller that goes away must not cancel the reservation.
            await asyncio.shield(mirror.refill)
        if self._kv is not None and self._monotonic() >= self._next_try:
            # One probe at a time: hits arriving while it is out stay local instead of
            # all waiting on a store that may be hanging.
            self._next_try = self._monotonic() + self._retry_seconds
            if mirror.refill is None:
                mirror.refill = asyncio.create_task(self._reserve(bucket, mirror, limit, cost))
            await asyncio.shield(mirror.refill)
            if self._down_since is None:
                return await self.hit(key, limit, cost)
        mirror.local += cost
        left = max(0, requests - mirror.shared)
        budget = mirror.lease + (left if self._kv is None else left // self.replicas)
        # Expressed against the full limit so the headers read the same in both modes.
        return self._decide(requests - budget + mirror.local, requests, reset)

    def _block(self, mirror: _Mirror, requests: int) -> int:
        """How many hits to lease next: large far from the limit, one near it."""
        left = requests - mirror.shared
        return max(1, min(self._max_block, left // (4 * self.replicas)))

    def _maybe_refill(self, bucket: str, mirror: _Mirror, limit: Limit) -> None:
        if mirror.refill is not None or mirror.shared >= limit.requests:
            return
        block = self._block(mirror, limit.requests)
        # Near the limit (block of one) hits reserve on demand, so none are stranded.
        if block > 1 and mirror.lease <= block // 2:
            mirror.refill = asyncio.create_task(self._reserve(bucket, mirror, limit, 0))

    async def _reserve(self, bucket: str, mirror: _Mirror, limit: Limit, need: int) -> None:
        """Lease a block (and carry over hits counted alone) with one INCRBY."""
        assert self._kv is not None  # noqa: S101 - only scheduled with a store
        requests = limit.requests
        _settle(mirror)
        carry = mirror.local
        fresh = max(need, self._block(mirror, requests))
        amount = carry + fresh
        try:
            self.store_calls += 1
            # A window key lives one window past its end, so a late replica's INCRBY
            # never resurrects it with a fresh TTL of a full window.
            count = await self._kv.incr(bucket, amount, ttl=2 * limit.window_seconds)
        except BackendError as exc:
            self._fail(exc.code)
        except Exception:
            # Not a lost store but a fault: still no caller may see it (the task is often
            # awaited by nobody), and the limiter falls back as for a lost store.
            self.refill_errors += 1
            if self._down_since is None:
                logger.exception("rate-limit refill failed unexpectedly; limiting locally")
            self._fail("INTERNAL")
        else:
            self._recover()
            # Our hits are (count - amount, count]: the carried ones first, then the
            # fresh ones, of which only those within the limit are granted.
            granted = max(0, min(count, requests) - (count - fresh))
            # Hits counted alone while this call was out stay local, for the next one.
            mirror.local -= carry
            mirror.lease += granted
            mirror.shared = count
        finally:
            mirror.refill = None

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

    def _fail(self, code: str) -> None:
        if self._down_since is None:
            self._down_since = self._monotonic()
            self.switches += 1
            logger.warning(
                "rate-limit store unavailable; using this replica's share of the budget",
                extra={"code": code},
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
