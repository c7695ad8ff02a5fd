"""What the gateway holds for its lifetime: the tables, the limiter, caches and clients.

Built by the app factory (the route table and limits are read at once, so a bad file
stops the start with a clear message); started and stopped in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from access_common.backends.kv import KeyValue
from access_common.clients import AuthClient, EntitlementsClient, MetricsClient
from access_common.health import HealthRegistry
from access_common.http import HttpClient
from access_common.pusher import MetricsPusher
from access_common.ratelimit import RateLimiter
from access_gateway.cache.service import ResponseCache
from access_gateway.identity.client_ip import ClientIpRule
from access_gateway.identity.principals import Principals
from access_gateway.metrics import GatewayMetrics
from access_gateway.ratelimit.service import RateLimits
from access_gateway.ratelimit.tiers import TierTable, TierTableError
from access_gateway.routing.table import RouteTable, RouteTableError
from access_gateway.settings import GatewaySettings
from access_gateway.upstream.registry import Upstreams

__all__ = ["ConfigError", "GatewayRuntime", "check_configuration", "settings_variables"]

logger = logging.getLogger("access_gateway")


class ConfigError(ValueError):
    """A route table or limits file is invalid, or they disagree on tiers."""


def settings_variables(settings: GatewaySettings) -> dict[str, str]:
    """The ``${VAR}`` values a route table file may use, from the settings."""
    values = {
        "ACCESS_PROJECTION_SERVICE_URL": settings.projection_service_url,
        "ACCESS_AUTH_SERVICE_URL": settings.auth_service_url,
        "ACCESS_ENTITLEMENTS_SERVICE_URL": settings.entitlements_service_url,
    }
    if settings.clickhouse_url:
        values["ACCESS_CLICKHOUSE_URL"] = settings.clickhouse_url
    return values


def _load(settings: GatewaySettings) -> tuple[RouteTable, TierTable]:
    try:
        routes = RouteTable.load(settings.routes_file, settings_variables(settings))
        tiers = TierTable.load(settings.rate_limits_file)
    except (RouteTableError, TierTableError) as exc:
        raise ConfigError(str(exc)) from None
    _check_tiers(routes, tiers)
    return routes, tiers


def check_configuration(settings: GatewaySettings) -> None:
    """Read and cross-check the route table and limits files; ConfigError when invalid."""
    _load(settings)


def _check_tiers(routes: RouteTable, tiers: TierTable) -> None:
    missing = sorted(routes.tiers - set(tiers.tiers))
    if missing:
        raise ConfigError(
            f"{routes.source} names tier(s) {', '.join(missing)} missing from {tiers.source}"
        )


class GatewayRuntime:
    """The pipeline's collaborators; ``routes`` and ``limits.tiers`` are swapped on reload."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        http: HttpClient,
        kv: KeyValue | None,
        metrics: GatewayMetrics,
        health: HealthRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.http = http
        self.kv = kv
        self.metrics = metrics
        self.routes, tiers = _load(settings)
        self.client_ip = ClientIpRule(
            trusted_proxies=settings.webhook_trusted_proxies,
            forwarded_for_hops=settings.forwarded_for_hops,
        )
        if self.client_ip.conflict:
            logger.warning(self.client_ip.conflict)
        self.upstreams = Upstreams(
            http, metrics, max_body_bytes=settings.upstream_max_body_bytes, health=health
        )
        self.upstreams.sync(self.routes.upstreams)
        self.limits = RateLimits(
            RateLimiter(kv, replicas=settings.rate_limit_replicas),
            tiers,
            metrics,
            kv=kv if kv is not None and kv.name != "memory" else None,
            min_replicas=settings.rate_limit_replicas,
        )
        self.principals = Principals(
            AuthClient(http, settings.auth_service_url),
            metrics,
            max_entries=settings.principal_cache_size,
            margin_seconds=settings.principal_expiry_margin_seconds,
        )
        self.entitlements = EntitlementsClient(http, settings.entitlements_service_url)
        self.cache = ResponseCache(
            kv,
            metrics,
            lru_entries=settings.cache_lru_entries,
            max_body_bytes=settings.cache_max_body_bytes,
        )
        self.generation = 0  # bumped on every applied reload (the OpenAPI cache keys on it)
        self._follower: asyncio.Task[None] | None = None
        # Requests by route and status, pushed to the metrics service (a dict update per
        # request; dropped and counted, never awaited, when the service is down).
        self.pusher = MetricsPusher(
            MetricsClient(http, settings.metrics_service_url),
            source="gateway",
            registry=metrics.registry,
        )

    def watched_files(self) -> dict[str, Path]:
        """The configured files a reload re-reads (the built-in ones never change)."""
        files: dict[str, Path] = {}
        if self.settings.routes_file is not None:
            files["routes"] = self.settings.routes_file
        if self.settings.rate_limits_file is not None:
            files["rate_limits"] = self.settings.rate_limits_file
        return files

    def reload(self) -> bool:
        """Re-read both files; apply them only if both are valid and agree. True when applied."""
        try:
            routes, tiers = _load(self.settings)
        except ConfigError as exc:
            logger.error("configuration reload refused; keeping the current one: %s", exc)
            for name in self.watched_files():
                self.metrics.reloads.labels(name, "error").inc()
            return False
        # Two reference swaps, no await in between: a request sees one version of each.
        self.upstreams.sync(routes.upstreams)
        self.routes = routes
        self.limits.tiers = tiers
        self.generation += 1
        for name in self.watched_files():
            self.metrics.reloads.labels(name, "ok").inc()
        logger.info(
            "configuration reloaded",
            extra={"routes": len(routes.routes), "tiers": sorted(tiers.tiers)},
        )
        return True

    def start(self) -> None:
        """Start background work (limiter check-in, the policy-version feed)."""
        self.limits.start()
        self.pusher.start()
        # A policy change kills cached decisions at once, not after their TTL; the
        # follower retries with a backoff while entitlements is down, never raises.
        self._follower = asyncio.create_task(
            self.entitlements.follow_policy_versions(), name="policy-version feed"
        )

    async def aclose(self) -> None:
        """Stop background work."""
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None
        await self.limits.aclose()
        await self.cache.aclose()
        await self.pusher.aclose()
