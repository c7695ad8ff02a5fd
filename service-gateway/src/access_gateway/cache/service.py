"""The hot-read cache: in-process LRU over the shared key-value store, one fetch per key.

Reading a key: a fresh entry in the LRU answers at once (HIT, no network hop); otherwise
the store is asked (an entry another replica stored is a HIT too). A stale entry is
served (STALE) while one background refresh runs, and keeps being served while the
upstream fails, until its stale window ends. A miss makes one upstream call however many
requests wait for it (MISS). When the store fails, the cache keeps its LRU tier and stops
asking the store for a second, so a dead Redis costs no latency.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from prometheus_client import Counter, Histogram

from access_common.backends.kv import KeyValue
from access_common.errors import BackendError
from access_gateway.cache.entry import CachedResponse
from access_gateway.cache.lru import Lru
from access_gateway.cache.ttl import AdaptiveTtl
from access_gateway.metrics import GatewayMetrics
from access_gateway.routing.schema import CachePolicy

__all__ = ["CacheResult", "Fetch", "ResponseCache"]

logger = logging.getLogger("access_gateway.cache")

CacheResult = Literal["HIT", "MISS", "STALE"]
Fetch = Callable[[], Awaitable[CachedResponse]]

_STORE_RETRY_SECONDS = 1.0


class ResponseCache:
    """Cached upstream answers for cacheable routes, shared by replicas through the store."""

    def __init__(
        self,
        kv: KeyValue | None,
        metrics: GatewayMetrics,
        *,
        lru_entries: int = 10_000,
        max_body_bytes: int = 1_048_576,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self._metrics = metrics
        self._lru: Lru[CachedResponse] = Lru(lru_entries)
        self._max_body = max_body_bytes
        self._clock = clock
        self._monotonic = monotonic
        self._flights: dict[str, asyncio.Task[CachedResponse]] = {}
        self._ttls: dict[str, AdaptiveTtl] = {}
        self._store_down_until = 0.0
        self._served = 0
        self._from_cache = 0
        # (route, result) -> its counter and the route's age histogram: labels() locks.
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        metrics.cache_hit_ratio.set_function(self.hit_ratio)

    def now(self) -> float:
        """The cache's wall clock (entries carry wall-clock times)."""
        return self._clock()

    def hit_ratio(self) -> float:
        """Share of cacheable reads answered from cache since start."""
        return self._from_cache / self._served if self._served else 0.0

    def adaptive(self, route_id: str) -> AdaptiveTtl:
        """The TTL tracker of a route."""
        tracker = self._ttls.get(route_id)
        if tracker is None:
            tracker = self._ttls[route_id] = AdaptiveTtl()
        return tracker

    async def get(
        self, key: str, route_id: str, policy: CachePolicy, fetch: Fetch
    ) -> tuple[CachedResponse, CacheResult]:
        """The answer for ``key``: from cache, or fetched once for all who wait."""
        self.adaptive(route_id).request()
        now = self._clock()
        entry = self._lru.get(key)
        if entry is None or entry.fresh_until <= now:
            stored = await self._load(key)
            if stored is not None and (entry is None or stored.stored_at > entry.stored_at):
                entry = stored
                self._lru.put(key, entry)
        self._served += 1
        if entry is not None and entry.fresh_until > now:
            return self._answer(entry, route_id, "HIT", now)
        if entry is not None and entry.stale_until > now:
            self._refresh(key, route_id, policy, fetch)
            return self._answer(entry, route_id, "STALE", now)
        self._metrics.cache_requests.labels(route_id, "miss").inc()
        flight = self._refresh(key, route_id, policy, fetch)
        fetched = await asyncio.shield(flight)
        if fetched.status == 200 and fetched.as_of:
            age = max(0.0, self._clock() - fetched.as_of)
            self._metrics.projection_age.labels(route_id).observe(age)
        return fetched, "MISS"

    def _answer(
        self, entry: CachedResponse, route_id: str, result: CacheResult, now: float
    ) -> tuple[CachedResponse, CacheResult]:
        self._from_cache += 1
        children = self._children.get((route_id, result))
        if children is None:
            children = self._children[(route_id, result)] = (
                self._metrics.cache_requests.labels(route_id, result.lower()),
                self._metrics.projection_age.labels(route_id),
            )
        children[0].inc()
        children[1].observe(max(0.0, now - entry.as_of))
        return entry, result

    def _refresh(
        self, key: str, route_id: str, policy: CachePolicy, fetch: Fetch
    ) -> asyncio.Task[CachedResponse]:
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.create_task(self._fetch(key, route_id, policy, fetch))
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return flight

    def _landed(self, key: str, flight: asyncio.Task[CachedResponse]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled() and flight.exception() is not None:
            # Retrieved here so a refresh nobody awaited (STALE) is not logged as lost;
            # the stale entry keeps being served (stale-on-error).
            logger.info(
                "cache refresh failed; serving stale while it lasts",
                extra={"code": getattr(flight.exception(), "code", "error")},
            )

    async def _fetch(
        self, key: str, route_id: str, policy: CachePolicy, fetch: Fetch
    ) -> CachedResponse:
        tracker = self.adaptive(route_id)
        try:
            fetched = await fetch()
        except Exception:
            tracker.error()
            raise
        if fetched.status != 200 or len(fetched.body) > self._max_body:
            return fetched
        ttl = tracker.ttl(policy.ttl_min, policy.ttl_max)
        entry = self.stamp(fetched, ttl, policy.stale_seconds)
        await self.store(key, entry, ttl + policy.stale_seconds)
        return entry

    def stamp(self, fetched: CachedResponse, ttl: float, stale_seconds: float) -> CachedResponse:
        """The fetched answer with its freshness times from now."""
        now = self._clock()
        return CachedResponse(
            status=fetched.status,
            headers=fetched.headers,
            body=fetched.body,
            stored_at=now,
            fresh_until=now + ttl,
            stale_until=now + ttl + stale_seconds,
            as_of=fetched.as_of or now,
        )

    async def store(self, key: str, entry: CachedResponse, ttl: float) -> bool:
        """Keep an entry in both tiers; False when the shared store did not take it."""
        self._lru.put(key, entry)
        if self._kv is None:
            return True
        if self._monotonic() < self._store_down_until:
            return False
        try:
            await self._kv.set(key, entry.encode(), ttl=ttl)
        except BackendError:
            self._store_failed()
            return False
        return True

    async def _load(self, key: str) -> CachedResponse | None:
        if self._kv is None or self._monotonic() < self._store_down_until:
            return None
        try:
            blob = await self._kv.get(key)
        except BackendError:
            self._store_failed()
            return None
        return CachedResponse.decode(blob) if blob is not None else None

    def _store_failed(self) -> None:
        self._metrics.cache_store_errors.inc()
        self._store_down_until = self._monotonic() + _STORE_RETRY_SECONDS

    async def aclose(self) -> None:
        """Cancel refreshes still running."""
        flights = list(self._flights.values())
        for flight in flights:
            flight.cancel()
        await asyncio.gather(*flights, return_exceptions=True)
