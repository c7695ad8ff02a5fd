"""The hot-read cache on real Redis: tenant isolation, single flight, stale-on-error."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from access_common.backends.redis_kv import RedisKeyValue
from access_common.testing import backend_url
from access_gateway.routing.table import BUILTIN_ROUTES
from access_gateway.testing import bearer

from .conftest import Gateway, Peers

pytestmark = pytest.mark.redis


async def test_tenants_never_see_each_other(
    peers: Peers, make_gateway: Gateway, unique: str
) -> None:
    url = backend_url("redis")
    alice = await peers.token("alice", f"a-{unique}")
    bob = await peers.token("bob", f"b-{unique}")
    async with make_gateway(RedisKeyValue(url)) as one, make_gateway(RedisKeyValue(url)) as two:
        path = "/api/v1/curves/NG-HH-FWD"
        first = await one.get(path, headers={**bearer(alice), "X-Tenant-ID": f"b-{unique}"})
        assert first.json()["tenant_id"] == f"a-{unique}"
        # Another replica finds tenant a's entry in Redis, for tenant a only.
        shared = await two.get(path, headers=bearer(alice))
        assert shared.headers["x-cache"] == "HIT"
        other = await two.get(path, headers={**bearer(bob), "X-Tenant-ID": f"a-{unique}"})
        assert other.headers["x-cache"] == "MISS"
        assert other.json()["tenant_id"] == f"b-{unique}"
        again = await one.get(path, headers=bearer(bob))
        assert again.headers["x-cache"] == "HIT"
        assert again.json()["tenant_id"] == f"b-{unique}"
        assert peers.upstream.calls["/curves/NG-HH-FWD"] == 2


async def test_concurrent_misses_make_one_upstream_call(
    peers: Peers, make_gateway: Gateway, unique: str
) -> None:
    url = backend_url("redis")
    token = await peers.token("alice", f"t-{unique}")
    peers.upstream.delay = 0.2
    async with make_gateway(RedisKeyValue(url)) as client:
        answers = await asyncio.gather(
            *(client.get("/api/v1/prices/latest", headers=bearer(token)) for _ in range(25))
        )
    assert {a.status_code for a in answers} == {200}
    assert [a.headers["x-cache"] for a in answers].count("MISS") == 25
    assert peers.upstream.calls["/prices/latest"] == 1


async def test_stale_is_served_while_the_upstream_fails(
    peers: Peers, make_gateway: Gateway, unique: str, tmp_path: Path
) -> None:
    url = backend_url("redis")
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        BUILTIN_ROUTES.read_text().replace(
            "cache: {ttl_min: 5, ttl_max: 15, stale_seconds: 60}",
            "cache: {ttl_min: 0.3, ttl_max: 0.3, stale_seconds: 60}",
        )
    )
    token = await peers.token("alice", f"t-{unique}")
    async with make_gateway(RedisKeyValue(url), routes_file=routes) as client:
        path = "/api/v1/prices/latest"
        first = await client.get(path, headers=bearer(token))
        assert first.headers["x-cache"] == "MISS"
        await asyncio.sleep(0.4)
        peers.upstream.status = 500
        for _ in range(3):
            stale = await client.get(path, headers=bearer(token))
            assert stale.status_code == 200
            assert stale.headers["x-cache"] == "STALE"
            assert stale.json() == first.json()
            await asyncio.sleep(0.05)
        peers.upstream.status = 200
        peers.upstream.version = 2
        await client.get(path, headers=bearer(token))  # triggers one more refresh
        await asyncio.sleep(0.05)
        fresh = await client.get(path, headers=bearer(token))
        assert fresh.headers["x-cache"] == "HIT"
        assert fresh.json()["version"] == 2
