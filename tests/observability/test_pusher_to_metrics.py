"""The pusher against the real metrics service over HTTP: counts arrive; an outage costs nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from access_common.clients.metrics import MetricsClient
from access_common.http import HttpClient
from access_common.pusher import MetricsPusher
from access_metrics.testing import Series, parse_scrape

from .stack import ServiceProcess


async def scrape(url: str) -> Series:
    async with httpx.AsyncClient() as client:
        return parse_scrape((await client.get(f"{url}/metrics")).text)


async def eventually(url: str, name: str, timeout: float = 10.0) -> Series:
    """The scrape, once ``name`` is in it (pushes are periodic)."""
    deadline = time.monotonic() + timeout
    while True:
        series = await scrape(url)
        if name in series or time.monotonic() > deadline:
            return series
        await asyncio.sleep(0.05)


async def test_pushed_counts_arrive_and_an_outage_only_drops(tmp_path: Path) -> None:
    metrics = ServiceProcess("metrics", {"ACCESS_STATE_DIR": str(tmp_path)}, tmp_path)
    metrics.start()
    http = HttpClient(timeout=0.5, retries=0)
    registry = CollectorRegistry()
    pusher = MetricsPusher(
        MetricsClient(http, metrics.url), source="gateway", interval=0.05, registry=registry
    )
    pusher.start()
    try:
        for _ in range(100):
            pusher.inc("gateway_served_cache_warm_total", labels={"result": "warmed"})
        pusher.observe("gateway_served_cache_warm_duration_seconds", 0.2)
        series = await eventually(metrics.url, "gateway_served_cache_warm_duration_seconds_count")
        warm = series["gateway_served_cache_warm_total"]
        assert warm == {(("result", "warmed"), ("service", "gateway")): 100}
        assert series["gateway_served_cache_warm_duration_seconds_count"] == {
            (("service", "gateway"),): 1
        }

        metrics.stop()
        started = time.perf_counter()
        for _ in range(10_000):
            pusher.inc("gateway_served_cache_warm_total", labels={"result": "warmed"})
            if _ % 1000 == 0:
                await asyncio.sleep(0.02)  # let flushes run against the dead service
        assert time.perf_counter() - started < 2.0
        for _ in range(100):
            lost = registry.get_sample_value(
                "metrics_push_dropped_samples_total", {"reason": "unreachable"}
            )
            if lost and pusher.pending == 0:
                break  # every buffered sample was pushed at the dead service and dropped
            await asyncio.sleep(0.05)
        assert lost is not None
        assert lost >= 1

        metrics.start()  # in memory: it starts from zero, and pushes resume by themselves
        pusher.inc("gateway_served_cache_warm_total", 5, labels={"result": "warmed"})
        assert (await eventually(metrics.url, "gateway_served_cache_warm_total"))[
            "gateway_served_cache_warm_total"
        ] == {(("result", "warmed"), ("service", "gateway")): 5}
    finally:
        await pusher.aclose()
        await http.aclose()
        metrics.stop()
