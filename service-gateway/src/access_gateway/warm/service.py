"""Cache warm: fetch the hot served queries of a tenant and store them, N at a time.

Used by ``POST /api/v1/cache/warm`` (the caller's tenant) and by
``scripts/warm_served_cache.py`` (any tenant, straight to Redis). Entries are stored
with the route's longest TTL under the same keys the pipeline reads, so the next
reads are hits; readers still pass their own entitlement check before the cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from access_common.errors import AccessError
from access_gateway.cache.service import ResponseCache
from access_gateway.metrics import GatewayMetrics
from access_gateway.pipeline.forward import answer_of, upstream_headers
from access_gateway.upstream.client import UpstreamCall
from access_gateway.upstream.registry import Upstreams
from access_gateway.warm.plan import WarmItem

__all__ = ["WarmReport", "Warmer"]

logger = logging.getLogger("access_gateway.warm")

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class WarmReport:
    """What a warm did: counts, the keys it wrote (or would write), and every error."""

    tenant: str
    dry_run: bool
    planned: int = 0
    warmed: int = 0
    skipped: int = 0
    duration_seconds: float = 0.0
    keys: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready data (the summary the CLI prints, the endpoint's body)."""
        return {
            "tenant": self.tenant,
            "dry_run": self.dry_run,
            "planned": self.planned,
            "warmed": self.warmed,
            "skipped": self.skipped,
            "duration_seconds": round(self.duration_seconds, 3),
            "keys": self.keys,
            "errors": self.errors,
        }


class Warmer:
    """Warm a plan through the upstreams into the cache, with bounded concurrency."""

    def __init__(
        self,
        upstreams: Upstreams,
        cache: ResponseCache,
        metrics: GatewayMetrics,
        *,
        concurrency: int,
    ) -> None:
        self._upstreams = upstreams
        self._cache = cache
        self._metrics = metrics
        self._concurrency = concurrency

    async def warm(
        self,
        items: list[WarmItem],
        *,
        tenant: str,
        user: str,
        dry_run: bool = False,
        problems: list[dict[str, str]] | None = None,
        progress: Progress | None = None,
    ) -> WarmReport:
        """Fetch and store every item; errors are collected, never raised."""
        report = WarmReport(tenant=tenant, dry_run=dry_run, planned=len(items))
        report.errors.extend(problems or [])
        for _ in problems or []:
            self._metrics.warm_total.labels("error").inc()
        started = time.perf_counter()
        done = 0
        slots = asyncio.Semaphore(self._concurrency)

        async def one(item: WarmItem) -> None:
            nonlocal done
            async with slots:
                result = await self._one(item, tenant=tenant, user=user, dry_run=dry_run)
            if result is None:
                report.warmed += 1
                report.keys.append(item.key)
                self._metrics.warm_total.labels("hit").inc()
            elif result == "skipped":
                report.skipped += 1
                report.keys.append(item.key)
                self._metrics.warm_total.labels("skipped").inc()
            else:
                report.errors.append({"route": item.route.id, "path": item.path, "error": result})
                self._metrics.warm_total.labels("error").inc()
            done += 1
            if progress is not None:
                progress(done, len(items))

        await asyncio.gather(*(one(item) for item in items))
        report.duration_seconds = time.perf_counter() - started
        self._metrics.warm_seconds.observe(report.duration_seconds)
        logger.info(
            "cache warm done",
            extra={"tenant": tenant, "warmed": report.warmed, "errors": len(report.errors)},
        )
        return report

    async def _one(self, item: WarmItem, *, tenant: str, user: str, dry_run: bool) -> str | None:
        """None when stored; "skipped" in a dry run; otherwise what went wrong."""
        if dry_run:
            return "skipped"
        spec = item.route.spec
        assert spec.cache is not None  # noqa: S101 - the plan keeps cached routes only
        try:
            upstream = self._upstreams[spec.upstream]
        except KeyError:
            return f"unknown upstream {spec.upstream}"
        call = UpstreamCall(
            method="GET",
            path=item.upstream_path,
            params=[
                (k, str(v).lower() if isinstance(v, bool) else str(v))
                for k, v in item.query.items()
            ],
            content=None,
            headers=upstream_headers([], tenant=tenant, user=user),
            timeout=spec.timeout_seconds,
            idempotent=True,
        )
        try:
            answer = answer_of(await upstream.send(call), upstream.name, spec.expose_headers)
        except AccessError as exc:
            return exc.code
        if answer.status != 200:
            return f"upstream answered {answer.status}"
        entry = self._cache.stamp(answer, spec.cache.ttl_max, spec.cache.stale_seconds)
        ttl = spec.cache.ttl_max + spec.cache.stale_seconds
        if not await self._cache.store(item.key, entry, ttl):
            return "BACKEND_UNAVAILABLE"
        return None
