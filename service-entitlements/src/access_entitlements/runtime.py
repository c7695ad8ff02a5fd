"""What the entitlements service holds for its lifetime, built in the app's lifespan.

A store that is down at start does not stop the service: the schema, the version sync
and the policy-file bootstrap are retried in the background until they succeed, and
checks answer ENTITLEMENTS_UNAVAILABLE (or from cache) meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from access_common.backends import KeyValue, Store
from access_common.clients import AuthClient
from access_common.errors import AccessError
from access_entitlements.decisions.cache import KvDecisions, LocalDecisions
from access_entitlements.decisions.service import Decider
from access_entitlements.decisions.ttl import AdaptiveTtl
from access_entitlements.metrics import EntitlementsMetrics
from access_entitlements.policy.bootstrap import load_policy_file
from access_entitlements.policy.cache import PolicyCache
from access_entitlements.policy.changes import VersionChanges
from access_entitlements.policy.feed import RedisVersionFeed
from access_entitlements.policy.versions import Mode, PolicyVersions
from access_entitlements.rules.repository import RuleRepository
from access_entitlements.rules.service import RuleFields, RuleService
from access_entitlements.settings import EntitlementsSettings

__all__ = ["EntitlementsRuntime"]

logger = logging.getLogger("access_entitlements")

_RETRY_SECONDS = 1.0


class EntitlementsRuntime:
    """Repository, versions, policies, caches, decider, rule service, feed and auth client."""

    def __init__(
        self,
        settings: EntitlementsSettings,
        *,
        store: Store,
        kv: KeyValue,
        auth: AuthClient,
        metrics: EntitlementsMetrics,
    ) -> None:
        self.settings = settings
        self.auth = auth
        self.repo = RuleRepository(store)
        mode: Mode = (
            "feed" if settings.redis_url else ("store" if store.dialect == "postgres" else "local")
        )
        # An in-process key-value store would only duplicate the local tier.
        shared_kv = kv if kv.name != "memory" else None
        self.versions = PolicyVersions(self.repo, mode, metrics, kv=shared_kv)
        self.feed: RedisVersionFeed | None = None
        if settings.redis_url:
            self.feed = RedisVersionFeed(
                settings.redis_url,
                on_version=lambda tenant, version: self.versions.observe(tenant, version, "feed"),
                on_subscribed=self._resynced,
                on_lost=self._feed_lost,
                reconcile_seconds=settings.entitlements_reconcile_seconds,
            )
            self.versions.publish = self.feed.publish
        self.policies = PolicyCache(self.repo, self.versions, metrics)
        ttl = AdaptiveTtl(
            settings.entitlements_cache_ttl_min_seconds,
            settings.entitlements_cache_ttl_max_seconds,
            on_change=metrics.ttl_seconds.set,
        )
        kv_tier = KvDecisions(shared_kv) if shared_kv is not None else None
        self.decider = Decider(
            versions=self.versions,
            policies=self.policies,
            local=LocalDecisions(settings.entitlements_local_cache_size),
            kv=kv_tier,
            ttl=ttl,
            metrics=metrics,
        )
        self.rules = RuleService(self.repo, self.versions)
        self.changes = VersionChanges({})
        self.versions.listen(self.changes.record)
        self._seed: dict[str, list[RuleFields]] = {}
        self._background: asyncio.Task[None] | None = None

    async def _resynced(self) -> None:
        """After (re)subscribing: read every version, then trust the map again."""
        await self.versions.sync()
        self.versions.feed_connected = True

    def _feed_lost(self) -> None:
        self.versions.feed_connected = False

    async def start(self) -> None:
        """Read the policy file, then sync and seed (in the background if the store is down)."""
        path: Path | None = self.settings.entitlements_policy_file
        if path is not None:
            self._seed = load_policy_file(path)
        if not await self._prepare():
            self._background = asyncio.create_task(self._retry(), name="entitlements-prepare")
        if self.feed is not None:
            self.feed.start()

    async def _prepare(self) -> bool:
        """Sync versions and seed tenants; False while the store cannot be reached."""
        try:
            await self.versions.sync()
            for tenant_id, rules in self._seed.items():
                if await self.rules.bootstrap(tenant_id, rules):
                    logger.info(
                        "tenant seeded from the policy file", extra={"tenant_id": tenant_id}
                    )
        except AccessError as exc:
            logger.warning("store not ready: %s; retrying", exc.code)
            return False
        self._seed = {}
        return True

    async def _retry(self) -> None:
        while True:
            await asyncio.sleep(_RETRY_SECONDS)
            if await self._prepare():
                return

    async def policy_health(self) -> str | None:
        """Degraded while this replica cannot trust its version map (feed down)."""
        if self.feed is not None and not self.versions.feed_connected:
            return "degraded"
        return None

    async def close(self) -> None:
        """Stop background work and the feed; let pending cache writes finish."""
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background
        if self.feed is not None:
            await self.feed.close()
        await self.decider.drain()
