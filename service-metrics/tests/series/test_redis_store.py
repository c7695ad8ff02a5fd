"""The Redis store against the real Redis: restarts, two replicas, the shared cap, outages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from access_common.testing import backend_url, redis_server
from access_metrics.app import create_app
from access_metrics.settings import MetricsSettings
from access_metrics.testing import parse_scrape, sample, served

pytestmark = pytest.mark.redis


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test only; its keys are deleted afterwards."""
    name = f"test-metrics:{uuid.uuid4().hex}"
    yield name
    redis = Redis.from_url(backend_url("redis"))
    keys = [key async for key in redis.scan_iter(match=f"{name}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def replica(prefix: str, name: str, url: str | None = None, **overrides: Any) -> Any:
    settings = MetricsSettings(
        env="test",
        redis_url=url or backend_url("redis"),
        metrics_redis_prefix=prefix,
        metrics_replica_id=name,
        **overrides,
    )
    return served(create_app(settings))


async def pushed_total(client: httpx.AsyncClient, name: str = "gateway_cache_hits_total") -> float:
    return sum(parse_scrape((await client.get("/metrics")).text).get(name, {}).values())


async def test_counters_survive_a_restart(prefix: str) -> None:
    async with replica(prefix, "a") as first:
        await first.post("/metrics/track", json={"samples": [sample(), sample(value=2)]})
        hist = sample("lag_seconds", type="histogram", value=0.3, labels={}, buckets=[0.1, 1])
        await first.post("/metrics/track", json=hist)
        assert await pushed_total(first) == 3
    async with replica(prefix, "a") as restarted:
        assert await pushed_total(restarted) == 3
        await restarted.post("/metrics/track", json=sample())
        assert await pushed_total(restarted) == 4
        scrape = parse_scrape((await restarted.get("/metrics")).text)
        assert scrape["lag_seconds_count"] == {(("service", "gateway"),): 1}
        assert scrape["lag_seconds_bucket"][(("le", "1.0"), ("service", "gateway"))] == 1
        # The family keeps its type across the restart.
        gauge = await restarted.post("/metrics/track", json=sample(type="gauge"))
        assert gauge.json()["code"] == "METRIC_TYPE_CONFLICT"


async def test_two_replicas_count_each_sample_once(prefix: str) -> None:
    async with replica(prefix, "a") as a, replica(prefix, "b") as b:
        await asyncio.gather(
            *(a.post("/metrics/track", json=sample()) for _ in range(10)),
            *(b.post("/metrics/track", json=sample()) for _ in range(7)),
        )
        # Prometheus scrapes both: the pushed series appear in one scrape only.
        totals = [await pushed_total(a), await pushed_total(b)]
        assert sorted(totals) == [0, 17]
        leaders = [
            parse_scrape((await c.get("/metrics")).text)["metrics_exporter_leader"][()]
            for c in (a, b)
        ]
        assert sorted(leaders) == [0, 1]
        exporter, other = (a, b) if totals[0] else (b, a)
        await other.post("/metrics/track", json=sample(value=3))
        assert await pushed_total(exporter) == 20
    # The exporter released its lease on shutdown: a replica that takes over sees it all.
    async with replica(prefix, "c") as c:
        assert await pushed_total(c) == 20


async def test_the_series_cap_holds_across_replicas(prefix: str) -> None:
    async with (
        replica(prefix, "a", metrics_max_series_per_metric=5) as a,
        replica(prefix, "b", metrics_max_series_per_metric=5) as b,
    ):
        first = await a.post(
            "/metrics/track",
            json={"samples": [sample(labels={"route": f"/a{i}"}) for i in range(3)]},
        )
        second = await b.post(
            "/metrics/track",
            json={"samples": [sample(labels={"route": f"/b{i}"}) for i in range(3)]},
        )
        assert first.json()["accepted"] == 3
        assert second.json()["accepted"] == 2
        assert second.json()["refusals"][0]["code"] == "SERIES_LIMIT_EXCEEDED"
        again = await b.post("/metrics/track", json=sample(labels={"route": "/a0"}))
        assert again.json()["accepted"] == 1
        assert await pushed_total(a) + await pushed_total(b) == 6


async def test_a_type_registered_by_one_replica_binds_the_other(prefix: str) -> None:
    async with replica(prefix, "a") as a, replica(prefix, "b") as b:
        assert (await a.post("/metrics/track", json=sample())).status_code == 200
        conflict = await b.post("/metrics/track", json=sample(type="gauge"))
        assert conflict.status_code == 409
        assert conflict.json()["code"] == "METRIC_TYPE_CONFLICT"


async def test_redis_down_refuses_with_503_and_recovers_without_restart(prefix: str) -> None:
    with redis_server() as server:
        url = f"redis://127.0.0.1:{server.port}/0"
        async with replica(prefix, "a", url=url) as client:
            assert (await client.post("/metrics/track", json=sample())).status_code == 200
            server.stop()
            down = await client.post("/metrics/track", json=sample())
            assert down.status_code == 503
            assert down.json()["code"] == "BACKEND_UNAVAILABLE"
            health = await client.get("/health")
            assert health.json()["dependencies"]["redis"] == "down"
            scrape = parse_scrape((await client.get("/metrics")).text)
            assert (
                scrape["metrics_samples_refused_total"][(("reason", "backend_unavailable"),)] == 1
            )
            assert "gateway_cache_hits_total" not in scrape
            server.start()  # a fresh, empty Redis (no persistence): new samples count again
            for _ in range(50):
                if (await client.post("/metrics/track", json=sample())).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await client.get("/health")).json()["dependencies"]["redis"] == "ok"
            assert await pushed_total(client) >= 1


async def test_a_replica_takes_over_when_the_exporter_dies_without_releasing(prefix: str) -> None:
    redis = Redis.from_url(backend_url("redis"))
    # A replica that died holding the lease: nobody releases it, it expires.
    await redis.set(f"{prefix}:exporter", b"dead-replica", px=600)
    await redis.aclose()
    async with replica(prefix, "b", metrics_export_lease_seconds=0.6) as b:
        await b.post("/metrics/track", json=sample(value=4))
        assert await pushed_total(b) == 0  # the dead replica still holds the lease
        await asyncio.sleep(0.7)
        assert await pushed_total(b) == 4
        leader = parse_scrape((await b.get("/metrics")).text)["metrics_exporter_leader"]
        assert leader == {(): 1.0}
