"""The metrics pusher: local aggregation, batches, and never slowing the service it runs in."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
from prometheus_client import CollectorRegistry

from access_common.clients.metrics import MetricsClient
from access_common.http import HttpClient
from access_common.pusher import MetricsPusher
from access_common.testing import free_port


class FakeMetricsService:
    """Records each pushed batch; answers like the metrics service, or slowly, or with an error."""

    def __init__(self, *, status: int = 200, delay: float = 0.0, refused: int = 0) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.status = status
        self.delay = delay
        self.refused = refused

    async def handler(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        samples = orjson.loads(request.content)["samples"]
        self.batches.append(samples)
        if self.status != 200:
            body = {"trace_id": "t", "code": "INVALID_SAMPLE", "message": "no", "details": {}}
            return httpx.Response(self.status, json=body)
        return httpx.Response(
            200, json={"accepted": len(samples) - self.refused, "refused": self.refused}
        )


def pusher_for(
    transport: httpx.AsyncBaseTransport | None, url: str = "http://metrics", **kwargs: Any
) -> tuple[MetricsPusher, CollectorRegistry, HttpClient]:
    http = HttpClient(timeout=0.5, retries=0, transport=transport)
    registry = CollectorRegistry()
    pusher = MetricsPusher(MetricsClient(http, url), source="gateway", registry=registry, **kwargs)
    return pusher, registry, http


def dropped(registry: CollectorRegistry, reason: str) -> float:
    value = registry.get_sample_value("metrics_push_dropped_samples_total", {"reason": reason})
    return value or 0.0


async def test_counters_are_summed_gauges_keep_the_last_value_batches_are_bounded() -> None:
    fake = FakeMetricsService()
    pusher, registry, http = pusher_for(httpx.MockTransport(fake.handler), max_batch=3)
    for _ in range(1000):
        pusher.inc("gateway_cache_hits_total", labels={"route": "/a"})
    pusher.inc("gateway_cache_hits_total", 2, labels={"route": "/b"})
    pusher.set("streaming_active_connections", 5)
    pusher.set("streaming_active_connections", 7)
    pusher.observe("lag_seconds", 0.2, buckets=[0.1, 1.0])
    pusher.observe("lag_seconds", 0.3)
    assert await pusher.flush() == 5
    assert [len(b) for b in fake.batches] == [3, 2]
    samples = [s for batch in fake.batches for s in batch]
    by_name = {(s["name"], s["labels"].get("route")): s for s in samples}
    assert by_name[("gateway_cache_hits_total", "/a")]["value"] == 1000
    assert by_name[("gateway_cache_hits_total", "/b")]["value"] == 2
    assert by_name[("streaming_active_connections", None)]["value"] == 7
    lags = [s for s in samples if s["name"] == "lag_seconds"]
    assert [s["value"] for s in lags] == [0.2, 0.3]
    assert all(s["buckets"] == [0.1, 1.0] for s in lags)
    assert {s["source"] for s in samples} == {"gateway"}
    assert registry.get_sample_value("metrics_push_sent_samples_total") == 5
    assert await pusher.flush() == 0  # nothing left
    await http.aclose()


async def test_metrics_service_down_drops_and_counts_and_never_blocks() -> None:
    # A real closed port: connection refused, as when the metrics service is not running.
    pusher, registry, http = pusher_for(None, f"http://127.0.0.1:{free_port()}", interval=0.01)
    pusher.start()
    started = time.perf_counter()
    for i in range(20_000):
        pusher.inc("gateway_requests_total", labels={"n": str(i % 10)})
    assert time.perf_counter() - started < 0.5  # recording is a dict update
    await asyncio.sleep(0.3)
    await pusher.aclose()
    assert dropped(registry, "unreachable") >= 10
    assert pusher.pending == 0
    await http.aclose()


async def test_a_slow_metrics_service_does_not_slow_recording() -> None:
    fake = FakeMetricsService(delay=0.3)
    pusher, _, http = pusher_for(httpx.MockTransport(fake.handler), interval=0.01)
    pusher.start()
    await asyncio.sleep(0.05)
    pusher.inc("x_total")
    await asyncio.sleep(0.05)  # a flush is now waiting on the slow service
    started = time.perf_counter()
    for _ in range(10_000):
        pusher.inc("x_total")
    assert time.perf_counter() - started < 0.5
    await pusher.aclose(final_flush_timeout=2.0)
    total = sum(s["value"] for batch in fake.batches for s in batch)
    assert total == 10_001
    await http.aclose()


async def test_buffer_full_drops_new_series_and_counts_them() -> None:
    fake = FakeMetricsService()
    pusher, registry, http = pusher_for(httpx.MockTransport(fake.handler), max_pending=3)
    for i in range(5):
        pusher.inc("x_total", labels={"i": str(i)})
    pusher.inc("x_total", labels={"i": "0"})  # an existing series still counts
    pusher.observe("lag", 1.0)
    assert dropped(registry, "buffer_full") == 3
    await pusher.flush()
    assert {s["labels"]["i"]: s["value"] for s in fake.batches[0]} == {"0": 2, "1": 1, "2": 1}
    await http.aclose()


async def test_refusals_are_counted_not_retried() -> None:
    fake = FakeMetricsService(status=422)
    pusher, registry, http = pusher_for(httpx.MockTransport(fake.handler))
    pusher.inc("x_total")
    assert await pusher.flush() == 0
    assert dropped(registry, "refused") == 1
    assert len(fake.batches) == 1
    capped = FakeMetricsService(refused=1)
    pusher, registry, http2 = pusher_for(httpx.MockTransport(capped.handler))
    pusher.inc("x_total", labels={"a": "1"})
    pusher.inc("x_total", labels={"a": "2"})
    assert await pusher.flush() == 1
    assert dropped(registry, "series_limit") == 1
    await http.aclose()
    await http2.aclose()
