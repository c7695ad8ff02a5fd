"""Compiled policies per tenant, reloaded from the store when the tenant's version moves."""

from __future__ import annotations

import asyncio

from access_entitlements.metrics import EntitlementsMetrics
from access_entitlements.policy.versions import PolicyVersions
from access_entitlements.rules.evaluator import TenantPolicy
from access_entitlements.rules.repository import RuleRepository

__all__ = ["PolicyCache"]


class PolicyCache:
    """The newest compiled policy of each tenant this replica has checked."""

    def __init__(
        self, repo: RuleRepository, versions: PolicyVersions, metrics: EntitlementsMetrics
    ) -> None:
        self._repo = repo
        self._versions = versions
        self._metrics = metrics
        self._policies: dict[str, TenantPolicy] = {}
        self._loading: dict[str, asyncio.Future[TenantPolicy]] = {}

    def peek(self, tenant_id: str, version: int) -> TenantPolicy | None:
        """The compiled policy when it is of this version (or newer), without I/O."""
        policy = self._policies.get(tenant_id)
        if policy is not None and policy.version >= version:
            return policy
        return None

    async def get(self, tenant_id: str, version: int) -> TenantPolicy:
        """The policy of at least this version, loading it once however many checks wait."""
        policy = self.peek(tenant_id, version)
        if policy is not None:
            return policy
        pending = self._loading.get(tenant_id)
        if pending is not None:
            policy = await asyncio.shield(pending)
            if policy.version >= version:
                return policy
        return await self._load(tenant_id)

    async def _load(self, tenant_id: str) -> TenantPolicy:
        future: asyncio.Future[TenantPolicy] = asyncio.get_running_loop().create_future()
        self._loading[tenant_id] = future
        try:
            version, rules = await self._repo.load_policy(tenant_id)
            policy = TenantPolicy(tenant_id, version, rules)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        finally:
            if self._loading.get(tenant_id) is future:
                del self._loading[tenant_id]
        future.set_result(policy)
        current = self._policies.get(tenant_id)
        if current is None or current.version <= policy.version:
            self._policies[tenant_id] = policy
        self._metrics.rules.labels(tenant_id).set(policy.rule_count)
        self._versions.observe(tenant_id, version, "store")
        return policy
