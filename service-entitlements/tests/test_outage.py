"""Backends going down under a running service: cached decisions keep flowing, fail closed
otherwise, health degrades, and everything recovers without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from access_common.backends.postgres_store import PostgresStore
from access_common.backends.redis_kv import RedisKeyValue
from access_common.testing import backend_url, postgres_server, redis_server
from access_entitlements.policy.versions import version_key
from access_entitlements.testing import FakeAuth, Service, running, unique_tenant

pytestmark = pytest.mark.timeout(180)

ALLOW = {"subject": "role:trader", "action": "read", "resource": "curve:*", "effect": "allow"}


def who(tenant_id: str) -> dict[str, object]:
    return {"user_id": "alice", "tenant_id": tenant_id, "roles": ["trader"], "action": "read"}


async def dependency(svc: Service, name: str, want: str, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    health: dict[str, object] = {}
    while asyncio.get_running_loop().time() < deadline:
        health = (await svc.http.get("/health")).json()
        deps = health["dependencies"]
        assert isinstance(deps, dict)
        if deps.get(name) == want:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} never became {want}: {health}")


async def eventually_ok(
    svc: Service, body: dict[str, object], within: float = 20.0
) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        answer = await svc.check(**body)
        if answer.status_code == 200 or asyncio.get_running_loop().time() > deadline:
            assert answer.status_code == 200, answer.text
            result: dict[str, object] = answer.json()
            return result
        await asyncio.sleep(0.3)


@pytest.mark.postgres
async def test_postgres_down_serves_what_is_known_and_fails_closed_on_the_rest(
    tmp_path: Path, auth: FakeAuth
) -> None:
    server = await asyncio.to_thread(postgres_server)
    await asyncio.to_thread(server.start, 60)
    dsn = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
    try:
        async with running(tmp_path, auth, store=PostgresStore(dsn)) as svc:
            known, cold = "tenant-known", "tenant-cold"
            for t in (known, cold):
                headers = auth.headers("root", t, ["admin"])
                created = await svc.http.post("/entitlements/rules", json=ALLOW, headers=headers)
                assert created.status_code == 201
            assert (await svc.check(**who(known), resource="curve:A")).json()["allow"] is True
            await asyncio.to_thread(server.stop)
            await dependency(svc, "postgres", "down")
            health = (await svc.http.get("/health")).json()
            assert health["status"] == "degraded"
            # Cached, and also any other resource of a tenant whose policy is loaded.
            assert (await svc.check(**who(known), resource="curve:A")).json()["allow"] is True
            other = await svc.check(**who(known), resource="curve:B")
            assert other.status_code == 200 and other.json()["allow"] is True
            # Never loaded: fail closed with the precise code.
            refused = await svc.check(**who(cold), resource="curve:A")
            assert refused.status_code == 503
            assert refused.json()["code"] == "ENTITLEMENTS_UNAVAILABLE"
            batch = {**who(cold), "checks": [{"action": "read", "resource": "curve:A"}]}
            batch.pop("action")
            refused = await svc.http.post("/entitlements/check-batch", json=batch)
            assert refused.status_code == 503
            write = await svc.http.post(
                "/entitlements/rules", json={**ALLOW, "resource": "price:*"},
                headers=auth.headers("root", known, ["admin"]),
            )  # fmt: skip
            assert write.status_code == 503 and write.json()["code"] == "BACKEND_UNAVAILABLE"
            metrics = (await svc.http.get("/metrics")).text
            assert 'entitlements_checks_total{result="unavailable"} 2.0' in metrics
            assert "entitlements_decision_ttl_seconds 30.0" in metrics
            # Recovery without a restart.
            await asyncio.to_thread(server.start, 60)
            recovered = await eventually_ok(svc, {**who(cold), "resource": "curve:A"})
            assert recovered["allow"] is True
            await dependency(svc, "postgres", "ok")
    finally:
        await asyncio.to_thread(server.close)


@pytest.mark.postgres
async def test_started_while_postgres_is_down_then_recovers(tmp_path: Path, auth: FakeAuth) -> None:
    server = await asyncio.to_thread(postgres_server)
    dsn = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
    try:
        async with running(tmp_path, auth, store=PostgresStore(dsn), policy_file=None) as svc:
            refused = await svc.check(**who("tenant-a"), resource="curve:A")
            assert refused.status_code == 503
            assert refused.json()["code"] == "ENTITLEMENTS_UNAVAILABLE"
            await asyncio.to_thread(server.start, 60)
            # Schema, version sync and the rest arrive once the database is there.
            answer = await eventually_ok(svc, {**who("tenant-a"), "resource": "curve:A"})
            assert answer["reason"] == "unknown_tenant"
            for _ in range(50):
                if svc.runtime.versions.synced:
                    break
                await asyncio.sleep(0.2)
            assert svc.runtime.versions.synced
    finally:
        await asyncio.to_thread(server.close)


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_replica_started_during_a_postgres_outage_serves_the_redis_tier(
    tmp_path: Path, auth: FakeAuth
) -> None:
    server = await asyncio.to_thread(postgres_server)
    await asyncio.to_thread(server.start, 60)
    dsn = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
    redis = backend_url("redis")
    t = unique_tenant()
    try:
        async with running(
            tmp_path, auth, store=PostgresStore(dsn), kv=RedisKeyValue(redis), redis_url=redis
        ) as a:
            await a.http.post(
                "/entitlements/rules", json=ALLOW, headers=auth.headers("r", t, ["admin"])
            )
            assert (await a.check(**who(t), resource="curve:A")).json()["allow"] is True
            await a.runtime.decider.drain()
        await asyncio.to_thread(server.stop)
        async with running(
            tmp_path, auth, store=PostgresStore(dsn), kv=RedisKeyValue(redis), redis_url=redis
        ) as b:
            answer = await b.check(**who(t), resource="curve:A")
            assert answer.status_code == 200 and answer.json()["allow"] is True
            assert answer.json()["policy_version"] == 1
            refused = await b.check(**who(t), resource="curve:B")
            assert refused.json()["code"] == "ENTITLEMENTS_UNAVAILABLE"
    finally:
        await asyncio.to_thread(server.close)
        kv = RedisKeyValue(redis)
        await kv.delete(version_key(t))
        await kv.close()


@pytest.mark.redis
@pytest.mark.postgres
async def test_redis_down_keeps_the_local_tier_and_strict_versions(
    tmp_path: Path, auth: FakeAuth, pg_schema_dsn: str
) -> None:
    server = await asyncio.to_thread(redis_server)
    await asyncio.to_thread(server.start)
    url = f"redis://127.0.0.1:{server.port}/0"
    t = unique_tenant()
    admin = auth.headers("root", t, ["admin"])
    try:
        async with running(
            tmp_path, auth, store=PostgresStore(pg_schema_dsn), kv=RedisKeyValue(url),
            redis_url=url,
        ) as svc:  # fmt: skip
            await dependency(svc, "policy_feed", "ok")
            await svc.http.post("/entitlements/rules", json=ALLOW, headers=admin)
            assert (await svc.check(**who(t), resource="curve:A")).json()["allow"] is True
            await asyncio.to_thread(server.stop)
            await dependency(svc, "redis", "down")
            await dependency(svc, "policy_feed", "degraded")
            assert (await svc.http.get("/health")).json()["status"] == "degraded"
            assert (await svc.http.get("/health/ready")).status_code == 200
            assert (await svc.check(**who(t), resource="curve:A")).json()["allow"] is True
            # A change made meanwhile is seen at once: versions come from the store now.
            deny = {**ALLOW, "effect": "deny", "resource": "curve:A"}
            assert (
                await svc.http.post("/entitlements/rules", json=deny, headers=admin)
            ).status_code == 201
            assert (await svc.check(**who(t), resource="curve:A")).json()["allow"] is False
            await asyncio.to_thread(server.start)
            await dependency(svc, "redis", "ok")
            await dependency(svc, "policy_feed", "ok")
            assert svc.runtime.versions.trusted
    finally:
        await asyncio.to_thread(server.close)
