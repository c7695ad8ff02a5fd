"""Two gateway replicas on one Redis share one rate budget; the real auth verifies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from access_common.backends.redis_kv import RedisKeyValue
from access_common.testing import backend_url
from access_gateway.testing import bearer, day_limits

from .conftest import Gateway, Peers

pytestmark = pytest.mark.redis


async def test_two_replicas_one_budget(
    peers: Peers, make_gateway: Gateway, unique: str, tmp_path: Path
) -> None:
    url = backend_url("redis")
    token = await peers.token(f"alice-{unique}", f"tenant-{unique}")
    first_kv, second_kv = RedisKeyValue(url), RedisKeyValue(url)
    limits = day_limits(tmp_path)
    async with (
        make_gateway(first_kv, rate_limits_file=limits) as first,
        make_gateway(second_kv, rate_limits_file=limits) as second,
    ):
        statuses = []
        for i in range(12):
            client = first if i % 2 == 0 else second
            response = await client.post("/api/v1/curves/recompute", json={}, headers=bearer(token))
            statuses.append(response.status_code)
        # The heavy tier allows 10 a window per user, across both replicas together.
        assert statuses == [200] * 10 + [429, 429]
        refused = await second.post("/api/v1/curves/recompute", json={}, headers=bearer(token))
        assert refused.json()["code"] == "RATE_LIMITED"
        assert refused.headers["ratelimit-remaining"] == "0"
        # Another user of the same tenant has a budget of their own.
        other = await peers.token(f"bob-{unique}", f"tenant-{unique}")
        response = await first.post("/api/v1/curves/recompute", json={}, headers=bearer(other))
        assert response.status_code == 200
        assert response.headers["ratelimit-remaining"] == "9"


async def test_real_auth_refusals_keep_their_codes(peers: Peers, make_gateway: Gateway) -> None:
    url = backend_url("redis")
    async with make_gateway(RedisKeyValue(url)) as client:
        malformed = await client.get("/api/v1/prices/latest", headers=bearer("not-a-jwt"))
        assert malformed.status_code == 401
        assert malformed.json()["code"] == "TOKEN_MALFORMED"
        expired = await peers.token("carol", "tenant-x", ttl_seconds=1)
        await asyncio.sleep(2.1)
        response = await client.get("/api/v1/prices/latest", headers=bearer(expired))
        assert response.status_code == 401
        assert response.json()["code"] == "TOKEN_EXPIRED"
