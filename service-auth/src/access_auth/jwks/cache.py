"""The Keycloak JWKS, cached in memory and refreshed safely.

- Cached for ``ttl`` seconds; a background task refreshes at 80 % of the TTL, and retries
  with backoff while the JWKS is unreachable.
- A token naming an unknown ``kid`` triggers an early refresh, **single-flight** (all
  concurrent callers share one fetch) and **rate-limited** (at most one early fetch per
  ``min_refresh_interval``), so a flood of junk kids costs Keycloak one request per interval.
- A failed refresh keeps the last good set (log code ``JWKS_REFRESH_FAILED``, health
  degraded) and verification goes on with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

import httpx
import orjson

from access_auth.jwks.keys import KeyRejected, KeySet, VerificationKey, parse_jwks
from access_auth.jwks.source import SourceStatus
from access_auth.metrics import AuthMetrics
from access_common.errors import AccessError

__all__ = ["HttpGetter", "JwksCache", "display_url"]

logger = logging.getLogger("access_auth.jwks")

_EARLY_REFRESH = 0.8
_MAX_RETRY_SECONDS = 60.0


class HttpGetter(Protocol):
    """The part of access_common.http.HttpClient the cache uses."""

    async def get(self, url: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET a URL."""
        ...


def display_url(url: str) -> str:
    """The URL without credentials or query string, safe to log."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


class _RefreshFailed(Exception):
    def __init__(self, result: str, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


class JwksCache:
    """The remote key set behind the KeySource protocol."""

    def __init__(
        self,
        url: str,
        http: HttpGetter,
        *,
        allowed: frozenset[str],
        ttl: float = 3600.0,
        min_refresh_interval: float = 10.0,
        max_bytes: int = 1_048_576,
        metrics: AuthMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.safe_url = display_url(url)
        self._http = http
        self._allowed = allowed
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self._max_bytes = max_bytes
        self._metrics = metrics
        self._clock = clock
        self._keys = KeySet()
        self._loaded_at: float | None = None
        self._last_attempt: float | None = None
        self._last_ok = False
        self._failures = 0
        self._inflight: asyncio.Task[bool] | None = None
        self._runner: asyncio.Task[None] | None = None
        self.fetches = 0
        if metrics is not None:
            metrics.track_age(self.age)

    # -- state -----------------------------------------------------------------------

    @property
    def keys(self) -> KeySet:
        """The current key set (empty until the first successful load)."""
        return self._keys

    @property
    def loaded(self) -> bool:
        """A key set was loaded at least once."""
        return self._loaded_at is not None

    @property
    def available(self) -> bool:
        """Loaded and the last refresh succeeded."""
        return self._loaded_at is not None and self._last_ok

    def age(self) -> float:
        """Seconds since the last successful load (+Inf when never loaded)."""
        if self._loaded_at is None:
            return math.inf
        return max(0.0, self._clock() - self._loaded_at)

    def status(self) -> SourceStatus:
        """down: never loaded; degraded: last refresh failed or older than the TTL."""
        if self._loaded_at is None:
            return "down"
        if not self._last_ok or self.age() > self.ttl:
            return "degraded"
        return "ok"

    def lookup(self, kid: str | None, alg: str) -> VerificationKey | None:
        """The key for kid in the current set; no I/O."""
        return self._keys.lookup(kid, alg)

    # -- refreshing ------------------------------------------------------------------

    def _rate_limited(self) -> bool:
        last = self._last_attempt
        return last is not None and self._clock() - last < self.min_refresh_interval

    def _start(self, trigger: str) -> asyncio.Task[bool]:
        if self._inflight is None:
            self._inflight = asyncio.get_running_loop().create_task(self._refresh(trigger))
        return self._inflight

    async def refresh(self, trigger: str = "manual") -> bool:
        """Fetch now (joining a fetch already under way); True when the set was loaded."""
        return await asyncio.shield(self._start(trigger))

    async def refresh_for_unknown_kid(self) -> None:
        """Refresh early for an unknown kid, at most once per min_refresh_interval."""
        if self._inflight is None and self._rate_limited():
            return
        await self.refresh("unknown_kid" if self.loaded else "not_loaded")

    def ensure_fresh(self) -> None:
        """Refresh in the background when the set is older than the TTL; never waits."""
        if self._loaded_at is not None and self.age() >= self.ttl and not self._rate_limited():
            self._start("expired")

    async def _refresh(self, trigger: str) -> bool:
        self._last_attempt = self._clock()
        self.fetches += 1
        started = time.perf_counter()
        try:
            keys = await self._fetch()
        except _RefreshFailed as exc:
            self._record_failure(exc, trigger, time.perf_counter() - started)
            return False
        except Exception as exc:  # a refresh must never break verification
            failure = _RefreshFailed("error", f"unexpected {type(exc).__name__}")
            self._record_failure(failure, trigger, time.perf_counter() - started)
            return False
        finally:
            self._inflight = None
        self._record_success(keys, trigger, time.perf_counter() - started)
        return True

    async def _fetch(self) -> KeySet:
        try:
            response = await self._http.get(self.url, headers={"accept": "application/json"})
        except (AccessError, httpx.HTTPError, OSError) as exc:
            raise _RefreshFailed("unreachable", type(exc).__name__) from None
        if response.status_code != 200:
            raise _RefreshFailed("http_error", f"HTTP {response.status_code}")
        body = response.content
        if len(body) > self._max_bytes:
            raise _RefreshFailed("invalid", f"body of {len(body)} bytes is too large")
        try:
            document = orjson.loads(body)
            keys, skipped = parse_jwks(document, self._allowed, source="jwks")
        except (orjson.JSONDecodeError, KeyRejected) as exc:
            reason = "not JSON" if isinstance(exc, orjson.JSONDecodeError) else str(exc)
            raise _RefreshFailed("invalid", reason) from None
        for kid, why in skipped:
            level = logging.DEBUG if why.startswith("use is") else logging.WARNING
            logger.log(level, "JWKS key skipped: %s", why, extra={"kid": kid, "reason": why})
        if not keys:
            raise _RefreshFailed("empty", "no usable signing key in the key set")
        return keys

    def _record_success(self, keys: KeySet, trigger: str, seconds: float) -> None:
        before, after = self._keys.kids, keys.kids
        was_ok = self._last_ok
        self._keys = keys
        self._loaded_at = self._clock()
        self._last_ok = True
        self._failures = 0
        if self._metrics is not None:
            self._metrics.observe_refresh("ok", seconds)
            self._metrics.jwks_keys.set(len(keys))
        level = logging.INFO if (before != after or not was_ok) else logging.DEBUG
        logger.log(
            level,
            "JWKS loaded: %d keys",
            len(keys),
            extra={
                "event": "JWKS_REFRESHED",
                "trigger": trigger,
                "kids": sorted(after),
                "added": sorted(after - before),
                "removed": sorted(before - after),
                "jwks_url": self.safe_url,
            },
        )

    def _record_failure(self, exc: _RefreshFailed, trigger: str, seconds: float) -> None:
        self._last_ok = False
        self._failures += 1
        if self._metrics is not None:
            self._metrics.observe_refresh(exc.result, seconds)
        logger.warning(
            "JWKS refresh failed (%s); keeping %d keys from the last good set",
            exc.reason,
            len(self._keys),
            extra={
                "code": "JWKS_REFRESH_FAILED",
                "result": exc.result,
                "reason": exc.reason,
                "trigger": trigger,
                "jwks_url": self.safe_url,
                "age_seconds": None if self._loaded_at is None else round(self.age(), 1),
            },
        )

    # -- background ------------------------------------------------------------------

    def next_delay(self) -> float:
        """Seconds until the background task should fetch again."""
        if self._loaded_at is None and self._failures == 0:
            return 0.0
        if not self._last_ok:
            base = max(self.min_refresh_interval, 1.0)
            return float(min(base * 2 ** min(self._failures - 1, 16), _MAX_RETRY_SECONDS))
        assert self._loaded_at is not None  # noqa: S101 - last_ok implies loaded
        due = self._loaded_at + self.ttl * _EARLY_REFRESH
        return max(due - self._clock(), min(1.0, self.ttl))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.next_delay())
            await self.refresh("scheduled")

    def start(self) -> None:
        """Start the background refresher (idempotent)."""
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        """Stop the background refresher and any fetch under way."""
        for task in (self._runner, self._inflight):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._runner = None
        self._inflight = None
