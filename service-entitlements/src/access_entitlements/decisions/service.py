"""Deciding: validate the subject, then local tier, compiled policy, key-value tier, store.

The order is by cost. A local hit costs a dict lookup. A replica that holds the
tenant's compiled policy evaluates in microseconds, cheaper than a Redis round trip,
so the key-value tier is asked only when the policy is not in memory (a replica
that just started, or one that cannot reach the store); only a miss there reads the
store. Every decision is written back to both tiers (to Redis in the background).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from access_common.errors import BackendError
from access_entitlements.decisions.cache import (
    Cached,
    CacheKey,
    KvDecisions,
    LocalDecisions,
    cache_key,
)
from access_entitlements.decisions.schemas import MAX_BATCH
from access_entitlements.decisions.ttl import AdaptiveTtl
from access_entitlements.errors import (
    BatchEmpty,
    BatchTooLarge,
    EntitlementsUnavailable,
    InvalidField,
)
from access_entitlements.metrics import EntitlementsMetrics
from access_entitlements.policy.cache import PolicyCache
from access_entitlements.policy.versions import PolicyVersions
from access_entitlements.rules.model import parse_action, valid_name
from access_entitlements.rules.patterns import parse_resource

__all__ = ["MAX_ROLES", "Decider", "Subject", "Verdict", "parse_subject_of_check"]

MAX_ROLES = 64
# Background writes to the key-value tier beyond this many in flight are dropped.
_MAX_PENDING_WRITES = 1000

logger = logging.getLogger("access_entitlements.decisions")


@dataclass(frozen=True, slots=True)
class Subject:
    """A validated subject: user, tenant, roles sorted and deduplicated."""

    user_id: str
    tenant_id: str
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One decision as the wire gives it."""

    allow: bool
    ttl_seconds: int
    reason: str
    rule_id: str | None
    policy_version: int


def parse_subject_of_check(user_id: str, tenant_id: str, roles: Sequence[str]) -> Subject:
    """Validate the subject of a check; each bad field has its own 422 code."""
    if not valid_name(user_id):
        raise InvalidField("user_id")
    if not valid_name(tenant_id):
        raise InvalidField("tenant_id")
    if len(roles) > MAX_ROLES or not all(valid_name(r) for r in roles):
        raise InvalidField("roles")
    return Subject(user_id, tenant_id, tuple(sorted(set(roles))))


class Decider:
    """Answers checks for every tenant, from the cheapest place that knows."""

    def __init__(
        self,
        *,
        versions: PolicyVersions,
        policies: PolicyCache,
        local: LocalDecisions,
        kv: KvDecisions | None,
        ttl: AdaptiveTtl,
        metrics: EntitlementsMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.versions = versions
        self.policies = policies
        self.local = local
        self.kv = kv
        self.ttl = ttl
        self._metrics = metrics
        self._clock = clock
        self._pending: set[asyncio.Task[None]] = set()
        checks = metrics.checks
        self._allowed, self._denied = checks.labels("allow"), checks.labels("deny")
        self._unavailable = checks.labels("unavailable")
        cache = metrics.cache
        self._local_hit, self._local_miss = (
            cache.labels("local", "hit"),
            cache.labels("local", "miss"),
        )
        self._kv_hit, self._kv_miss = cache.labels("kv", "hit"), cache.labels("kv", "miss")
        self._kv_error = cache.labels("kv", "error")
        self._evaluation = metrics.evaluation_seconds

    async def check(
        self, subject: Subject, action: str, resource: str, at_least: int = 0
    ) -> Verdict:
        """Decide one action on one resource."""
        action, resource = parse_action(action), parse_resource(resource)
        version = await self._version(subject.tenant_id, at_least)
        return await self._decide(subject, action, resource, version, self._clock())

    async def check_many(
        self, subject: Subject, items: Sequence[tuple[str, str]], at_least: int = 0
    ) -> tuple[int, list[Verdict]]:
        """Decide many pairs for one subject under one policy version, in order."""
        if not items:
            raise BatchEmpty
        if len(items) > MAX_BATCH:
            raise BatchTooLarge(details={"max_checks": MAX_BATCH, "checks": len(items)})
        pairs = [(parse_action(a), parse_resource(r)) for a, r in items]
        version = await self._version(subject.tenant_id, at_least)
        now = self._clock()
        verdicts = [await self._decide(subject, a, r, version, now) for a, r in pairs]
        # The oldest version among them: a client then drops them all once a newer one shows.
        return min((v.policy_version for v in verdicts), default=version), verdicts

    async def _version(self, tenant_id: str, at_least: int) -> int:
        try:
            return await self.versions.current(tenant_id, at_least)
        except EntitlementsUnavailable:
            self._unavailable.inc()
            self.ttl.error()
            raise

    async def _decide(
        self, subject: Subject, action: str, resource: str, version: int, now: float
    ) -> Verdict:
        key = cache_key(subject.tenant_id, subject.user_id, subject.roles, action, resource)
        entry = self.local.get(key, version, now)
        if entry is not None:
            self._local_hit.inc()
            return self._served(entry, now)
        self._local_miss.inc()
        policy = self.policies.peek(subject.tenant_id, version)
        if policy is None and self.kv is not None:
            entry = await self._from_kv(key, version, now)
            if entry is not None:
                self.local.put(key, entry)
                return self._served(entry, now)
        if policy is None:
            try:
                policy = await self.policies.get(subject.tenant_id, version)
            except BackendError:
                self._unavailable.inc()
                self.ttl.error()
                raise EntitlementsUnavailable(details={"tenant_id": subject.tenant_id}) from None
        self.ttl.miss()
        started = time.perf_counter()
        evaluation = policy.evaluate(subject.user_id, subject.roles, action, resource)
        self._evaluation.observe(time.perf_counter() - started)
        ttl = self.ttl.current()
        entry = Cached(
            policy.version, evaluation.allow, evaluation.rule_id, evaluation.reason, now + ttl
        )
        self.local.put(key, entry)
        if self.kv is not None:
            self._write_back(key, entry, ttl)
        (self._allowed if entry.allow else self._denied).inc()
        return Verdict(entry.allow, ttl, entry.reason, entry.rule_id, entry.version)

    def _served(self, entry: Cached, now: float) -> Verdict:
        self.ttl.hit()
        (self._allowed if entry.allow else self._denied).inc()
        ttl = max(1, int(entry.expires_at - now))
        return Verdict(entry.allow, ttl, entry.reason, entry.rule_id, entry.version)

    async def _from_kv(self, key: CacheKey, version: int, now: float) -> Cached | None:
        assert self.kv is not None  # noqa: S101 - only called with a tier
        try:
            entry = await self.kv.get(key, version, now)
        except BackendError:
            self._kv_error.inc()
            self.ttl.error()
            return None
        (self._kv_hit if entry is not None else self._kv_miss).inc()
        return entry

    def _write_back(self, key: CacheKey, entry: Cached, ttl: float) -> None:
        if len(self._pending) >= _MAX_PENDING_WRITES:
            return
        task = asyncio.create_task(self._put(key, entry, ttl))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _put(self, key: CacheKey, entry: Cached, ttl: float) -> None:
        assert self.kv is not None  # noqa: S101
        try:
            await self.kv.put(key, entry, ttl)
        except BackendError:
            self._kv_error.inc()

    async def drain(self) -> None:
        """Wait for background writes (shutdown, tests)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
