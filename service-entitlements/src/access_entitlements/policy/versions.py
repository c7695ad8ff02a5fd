"""Each tenant's policy version as this replica knows it, and when that knowledge is trusted.

Every rule change increments its tenant's version in the same transaction. A decision
is served from a cache only when it was made under the version this replica believes
current, so what matters is how current that belief is:

* ``local`` mode (SQLite, no Redis): one process makes every change; the map is exact.
* ``feed`` mode (Redis configured): other replicas publish each change; while the feed
  is subscribed and the map was resynced after subscribing, the map is trusted. While
  it is not, every check reads the version from the store.
* ``store`` mode (PostgreSQL without Redis): nothing tells this replica about others'
  changes, so every check reads the version from the store.

When the store cannot be read either, the last known version is used: no rule can
change while the store is down, since every change is written there first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from access_common.errors import BackendError
from access_entitlements.errors import EntitlementsUnavailable
from access_entitlements.metrics import EntitlementsMetrics
from access_entitlements.rules.repository import RuleRepository

__all__ = ["Mode", "PolicyVersions"]

Mode = Literal["local", "feed", "store"]

logger = logging.getLogger("access_entitlements.versions")


class PolicyVersions:
    """The tenant → version map, fed by local writes, the feed, and reads of the store."""

    def __init__(self, repo: RuleRepository, mode: Mode, metrics: EntitlementsMetrics) -> None:
        self._repo = repo
        self.mode = mode
        self._metrics = metrics
        self._known: dict[str, int] = {}
        self.synced = False
        self.feed_connected = False
        self._listeners: list[Callable[[str, int], None]] = []

    @property
    def trusted(self) -> bool:
        """True when the map alone may answer (no store read per check)."""
        if self.mode == "local":
            return self.synced
        return self.mode == "feed" and self.synced and self.feed_connected

    def known(self, tenant_id: str) -> int:
        """The version last seen for a tenant (0 when none)."""
        return self._known.get(tenant_id, 0)

    def snapshot(self) -> dict[str, int]:
        """Every known version (a copy)."""
        return dict(self._known)

    def listen(self, callback: Callable[[str, int], None]) -> None:
        """Call ``callback(tenant, version)`` on every version increase."""
        self._listeners.append(callback)

    async def current(self, tenant_id: str, at_least: int = 0) -> int:
        """The version decisions for this tenant must carry now."""
        if self.trusted:
            version = self._known.get(tenant_id, 0)
            if version >= at_least:
                return version
        try:
            version = await self._repo.version(tenant_id)
        except BackendError:
            if self.synced or tenant_id in self._known:
                return self._known.get(tenant_id, 0)
            raise EntitlementsUnavailable(details={"tenant_id": tenant_id}) from None
        self.observe(tenant_id, version, "store")
        return self._known.get(tenant_id, 0)

    def observe(self, tenant_id: str, version: int, source: str) -> bool:
        """Note a tenant's version; True when it is newer than what was known."""
        if version <= self._known.get(tenant_id, 0):
            return False
        self._known[tenant_id] = version
        self._metrics.version_changes.labels(source).inc()
        for callback in self._listeners:
            callback(tenant_id, version)
        return True

    async def sync(self) -> None:
        """Read every tenant's version from the store (at start, after a feed reconnect)."""
        for tenant_id, version in (await self._repo.versions()).items():
            self.observe(tenant_id, version, "sync")
        if not self.synced:
            logger.info("policy versions synced", extra={"tenants": len(self._known)})
        self.synced = True
