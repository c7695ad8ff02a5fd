"""Two replicas sharing real PostgreSQL and Redis: a change on one is seen by the other at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from access_common.backends.postgres_store import PostgresStore
from access_common.backends.redis_kv import RedisKeyValue
from access_common.testing import backend_url
from access_entitlements.policy.versions import version_key
from access_entitlements.testing import FakeAuth, Service, running
from access_entitlements.testing import unique_tenant as tenant

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(120)]


@contextlib.asynccontextmanager
async def replica(
    tmp_path: Path, auth: FakeAuth, dsn: str, **settings: Any
) -> AsyncIterator[Service]:
    redis = backend_url("redis")
    async with running(
        tmp_path, auth, store=PostgresStore(dsn), kv=RedisKeyValue(redis), redis_url=redis,
        **settings,
    ) as svc:  # fmt: skip
        yield svc


async def wait_feed(svc: Service) -> None:
    for _ in range(100):
        if svc.runtime.versions.trusted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the policy feed never subscribed")


async def forget(tenant_id: str) -> None:
    """Remove the version key a test tenant left in the shared Redis."""
    kv = RedisKeyValue(backend_url("redis"))
    try:
        await kv.delete(version_key(tenant_id))
    finally:
        await kv.close()


async def test_a_change_on_one_replica_is_seen_by_the_others_next_check(
    tmp_path: Path, auth: FakeAuth, pg_schema_dsn: str
) -> None:
    t = tenant()
    admin = auth.headers("root", t, ["admin"])
    who = {"user_id": "alice", "tenant_id": t, "roles": ["trader"], "action": "read"}
    async with (
        replica(tmp_path, auth, pg_schema_dsn) as a,
        replica(tmp_path, auth, pg_schema_dsn) as b,
    ):
        await wait_feed(a)
        await wait_feed(b)
        assert (await b.check(**who, resource="curve:NG_HH")).json()["reason"] == "unknown_tenant"
        allow = {
            "subject": "role:trader",
            "action": "read",
            "resource": "curve:*",
            "effect": "allow",
        }
        created = await a.http.post("/entitlements/rules", json=allow, headers=admin)
        assert created.status_code == 201
        for round_ in range(10):
            # B has the decision cached (or its policy compiled) from the last round.
            seen = (await b.check(**who, resource="curve:NG_HH")).json()
            assert seen["allow"] is True, (round_, seen)
            version = seen["policy_version"]
            deny = {"subject": "user:alice", "action": "read", "resource": "curve:NG_HH",
                    "effect": "deny", "note": f"round {round_}"}  # fmt: skip
            denied = await a.http.post("/entitlements/rules", json=deny, headers=admin)
            assert denied.json()["policy_version"] == version + 1
            after = (await b.check(**who, resource="curve:NG_HH")).json()
            assert after["allow"] is False, (round_, after)
            assert after["policy_version"] == version + 1
            rule_id = denied.json()["rule"]["id"]
            await a.http.delete(f"/entitlements/rules/{rule_id}", headers=admin)
        # The audit is shared: both replicas show the same trail.
        trail_a = (await a.http.get("/entitlements/audit?limit=100", headers=admin)).json()
        trail_b = (await b.http.get("/entitlements/audit?limit=100", headers=admin)).json()
        assert trail_a == trail_b and trail_a["total"] == 21
        await a.runtime.decider.drain()
        metrics = (await b.http.get("/metrics")).text
        assert 'entitlements_policy_version_changes_total{source="feed"}' in metrics
        await forget(t)


async def test_min_policy_version_reads_the_store_when_the_replica_lags(
    tmp_path: Path, auth: FakeAuth, pg_schema_dsn: str
) -> None:
    """The zookie: a caller that knows a newer version gets a decision at least that new."""
    t = tenant()
    admin = auth.headers("root", t, ["admin"])
    who = {"user_id": "alice", "tenant_id": t, "roles": ["trader"], "action": "read"}
    async with (
        replica(tmp_path, auth, pg_schema_dsn) as a,
        replica(tmp_path, auth, pg_schema_dsn) as b,
    ):
        await wait_feed(b)
        allow = {
            "subject": "role:trader",
            "action": "read",
            "resource": "curve:*",
            "effect": "allow",
        }
        await a.http.post("/entitlements/rules", json=allow, headers=admin)
        assert (await b.check(**who, resource="curve:X")).json()["allow"] is True
        # Simulate a lost message: B stops listening to the feed's news for this tenant.
        b.runtime.versions._listeners.clear()
        original = b.runtime.versions.observe
        b.runtime.versions.observe = lambda tenant_id, version, source: (  # type: ignore[method-assign]
            False if source == "feed" else original(tenant_id, version, source)
        )
        deny = {"subject": "*", "action": "read", "resource": "curve:X", "effect": "deny"}
        written = (await a.http.post("/entitlements/rules", json=deny, headers=admin)).json()
        stale = (await b.check(**who, resource="curve:X")).json()
        assert stale["allow"] is True  # what a lost message would cost, up to the TTL
        fresh = await b.check(
            **who, resource="curve:X", min_policy_version=written["policy_version"]
        )
        assert fresh.json()["allow"] is False
        assert fresh.json()["policy_version"] == written["policy_version"]
        await forget(t)


async def test_the_redis_tier_is_shared_and_flushable(
    tmp_path: Path, auth: FakeAuth, pg_schema_dsn: str
) -> None:
    t = tenant()
    admin = auth.headers("root", t, ["admin"])
    who = {"user_id": "alice", "tenant_id": t, "roles": ["trader"], "action": "read"}
    kv = RedisKeyValue(backend_url("redis"))
    try:
        async with replica(tmp_path, auth, pg_schema_dsn) as a:
            allow = {
                "subject": "role:trader",
                "action": "read",
                "resource": "curve:*",
                "effect": "allow",
            }
            await a.http.post("/entitlements/rules", json=allow, headers=admin)
            assert (await a.check(**who, resource="curve:NG")).json()["allow"] is True
            await a.runtime.decider.drain()
            assert await kv.get(version_key(t)) == b"1"
        # A replica that never loaded the tenant answers from the shared tier.
        async with replica(tmp_path, auth, pg_schema_dsn) as b:
            answer = (await b.check(**who, resource="curve:NG")).json()
            assert answer["allow"] is True and answer["policy_version"] == 1
            metrics = (await b.http.get("/metrics")).text
            assert 'entitlements_cache_total{outcome="hit",tier="kv"} 1.0' in metrics
    finally:
        await kv.delete(version_key(t))
        await kv.close()
