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
change while the store is down, since every change is written there first. A replica
that never read the store (it started during the outage) takes the version every
writer also leaves in the key-value backend (``entitlement:version:<tenant>``), so it
can serve the decisions other replicas cached there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from access_common.backends import KeyValue
from access_common.errors import BackendError
from access_entitlements.errors import EntitlementsUnavailable
from access_entitlements.metrics import EntitlementsMetrics
from access_entitlements.rules.repository import RuleRepository

__all__ = ["Mode", "PolicyVersions", "version_key"]

Mode = Literal["local", "feed", "store"]

logger = logging.getLogger("access_entitlements.versions")


def version_key(tenant_id: str) -> str:
    """The key-value key holding a tenant's latest version."""
    return f"entitlement:version:{tenant_id}"


class PolicyVersions:
    """The tenant → version map, fed by local writes, the feed, and reads of the store."""

    def __init__(
        self,
        repo: RuleRepository,
        mode: Mode,
        metrics: EntitlementsMetrics,
        *,
        kv: KeyValue | None = None,
    ) -> None:
        self._repo = repo
        self._kv = kv
        self.publish: Callable[[str, int], Awaitable[object]] | None = None
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
            return await self._from_kv(tenant_id)
        self.observe(tenant_id, version, "store")
        return self._known.get(tenant_id, 0)

    async def _from_kv(self, tenant_id: str) -> int:
        """The version writers left in the key-value backend; unavailable without it."""
        raw = None
        if self._kv is not None:
            try:
                raw = await self._kv.get(version_key(tenant_id))
            except BackendError:
                raw = None
        if raw is None or not raw.isdigit():
            raise EntitlementsUnavailable(details={"tenant_id": tenant_id})
        return int(raw)

    async def announce(self, tenant_id: str, version: int) -> None:
        """After a committed change: note it, leave it in the key-value backend, publish it."""
        self.observe(tenant_id, version, "local")
        if self._kv is not None:
            try:
                await self._kv.set(version_key(tenant_id), str(version).encode())
            except BackendError:
                logger.warning("policy version not stored in the key-value backend")
        if self.publish is not None:
            await self.publish(tenant_id, version)

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
