"""Per-user and per-tenant connection limits, cluster-wide on the key-value backend.

Each open connection holds one *slot* of its user and one of its tenant: keys
``stream:slot:u:<user digest>:<i>`` (``i`` < the user limit) and
``stream:slot:t:<tenant digest>:<i>``, taken with ``SET NX`` and a TTL. The instance that
holds a slot refreshes it while the connection lives and deletes it on close; a crashed
instance's slots simply expire after the TTL. With Redis every instance sees the same
slots, so the limits hold across the cluster (not per pod); without it they hold for
this process. When the store cannot be reached, this instance's own counts enforce the
limits (counted as degraded) rather than refusing everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections import Counter
from dataclasses import dataclass

from access_common.backends.kv import KeyValue
from access_common.errors import BackendError
from access_streaming.connections.connection import Owner
from access_streaming.errors import ConnectionLimitExceeded

__all__ = ["ConnectionSlots", "Lease"]

logger = logging.getLogger("access_streaming.slots")

_PREFIX = "stream:slot"
# Leases refreshed per loop turn: with the in-process store a chunk never suspends, so its
# size bounds how long a refresh of every slot holds up the fan-out (25: about a ms).
_REFRESH_CHUNK = 25


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=12).hexdigest()


@dataclass(slots=True)
class Lease:
    """The two slots a connection holds (None when taken while the store was down)."""

    owner: Owner
    value: bytes
    user_key: str | None
    tenant_key: str | None


class ConnectionSlots:
    """Take, refresh and give back connection slots."""

    def __init__(
        self,
        kv: KeyValue,
        *,
        per_user: int,
        per_tenant: int,
        instance: str,
        ttl: float = 30.0,
    ) -> None:
        self._kv = kv
        self.per_user = per_user
        self.per_tenant = per_tenant
        self._instance = instance
        self.ttl = ttl
        self._held: dict[int, Lease] = {}
        self._users: Counter[tuple[str, str]] = Counter()
        self._tenants: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None
        self.degraded = False

    async def _take(self, base: str, limit: int, value: bytes) -> str | None:
        start = random.randrange(limit)  # noqa: S311 - spreading probes, not security
        for step in range(limit):
            key = f"{base}:{(start + step) % limit}"
            if await self._kv.set_if_absent(key, value, ttl=self.ttl):
                return key
        return None

    async def acquire(self, owner: Owner, connection_id: str) -> Lease:
        """Take a slot of the user and one of the tenant; ConnectionLimitExceeded if none."""
        user = (owner.tenant_id, owner.user_id)
        value = f"{self._instance}:{connection_id}".encode()
        user_base = f"{_PREFIX}:u:{_digest(*user)}"
        tenant_base = f"{_PREFIX}:t:{_digest(owner.tenant_id)}"
        try:
            user_key = await self._take(user_base, self.per_user, value)
            if user_key is None:
                raise self._refused("user", self.per_user)
            tenant_key = await self._take(tenant_base, self.per_tenant, value)
            if tenant_key is None:
                with contextlib.suppress(BackendError):
                    await self._kv.delete(user_key)
                raise self._refused("tenant", self.per_tenant)
            self._mark(ok=True)
            lease = Lease(owner, value, user_key, tenant_key)
        except BackendError:
            self._mark(ok=False)
            # This instance's own counts still enforce the limits.
            if self._users[user] >= self.per_user:
                raise self._refused("user", self.per_user) from None
            if self._tenants[owner.tenant_id] >= self.per_tenant:
                raise self._refused("tenant", self.per_tenant) from None
            lease = Lease(owner, value, None, None)
        self._users[user] += 1
        self._tenants[owner.tenant_id] += 1
        self._held[id(lease)] = lease
        return lease

    @staticmethod
    def _refused(scope: str, limit: int) -> ConnectionLimitExceeded:
        return ConnectionLimitExceeded(
            f"At most {limit} connections per {scope}",
            details={"scope": scope, "limit": limit},
            headers={"Retry-After": "5"},
        )

    def _mark(self, *, ok: bool) -> None:
        if ok and self.degraded:
            logger.info("connection slots shared again")
        elif not ok and not self.degraded:
            logger.warning("connection slot store unavailable; limits enforced per instance")
        self.degraded = not ok

    async def release(self, lease: Lease) -> None:
        """Give the slots back (idempotent)."""
        if self._held.pop(id(lease), None) is None:
            return
        owner = lease.owner
        user = (owner.tenant_id, owner.user_id)
        self._users[user] -= 1
        if self._users[user] <= 0:
            del self._users[user]
        self._tenants[owner.tenant_id] -= 1
        if self._tenants[owner.tenant_id] <= 0:
            del self._tenants[owner.tenant_id]
        for key in (lease.user_key, lease.tenant_key):
            if key is None:
                continue
            try:
                if await self._kv.get(key) == lease.value:
                    await self._kv.delete(key)
            except BackendError:
                # It expires by itself after the TTL.
                self._mark(ok=False)

    async def _refresh_one(self, lease: Lease) -> None:
        for key in (lease.user_key, lease.tenant_key):
            if key is None:
                continue
            current = await self._kv.get(key)
            if current is None or current == lease.value:
                await self._kv.set(key, lease.value, ttl=self.ttl)

    async def refresh(self) -> None:
        """Extend every slot this instance holds (run every third of the TTL)."""
        leases = list(self._held.values())
        try:
            for start in range(0, len(leases), _REFRESH_CHUNK):
                chunk = leases[start : start + _REFRESH_CHUNK]
                await asyncio.gather(*(self._refresh_one(lease) for lease in chunk))
            self._mark(ok=True)
        except BackendError:
            self._mark(ok=False)

    async def _refresher(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            await self.refresh()

    def start(self) -> None:
        """Start refreshing in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._refresher(), name="slot refresher")

    async def close(self) -> None:
        """Stop refreshing and give back every slot still held."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for lease in list(self._held.values()):
            await self.release(lease)
