"""Metrics service benchmark: batches of 100 samples over HTTP, and /metrics of 10,000 series.

Ingestion runs the real metrics service (one uvicorn worker, in-memory store) and, in
the same run, a bare FastAPI route that receives and parses the same body, each at
fixed request rates from the open-loop generator on the other core. Rendering is
measured in process: this service's renderer against prometheus-client's
``generate_latest`` over the same 10,000 series.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from access_metrics.exposition.render import Renderer
from access_metrics.series.model import DEFAULT_BUCKETS, FamilySpec, FamilyState, MetricType
from bench.load import LoadResult, run_load, saturate
from bench.servers import new_port, serving, uvicorn_argv

__all__ = ["run"]

BATCH = 100


def _batch() -> bytes:
    """100 samples as a gateway pusher sends them: counters, gauges and observations."""
    samples = []
    for i in range(BATCH):
        kind = ("counter", "counter", "gauge", "histogram")[i % 4]
        samples.append(
            {
                "name": {"counter": "gateway_upstream_calls_total", "gauge": "gateway_pool_size",
                         "histogram": "gateway_upstream_seconds"}[kind],
                "type": kind,
                "value": 1 + (i % 7) * 0.01,
                "labels": {"upstream": f"u{i % 5}", "route": f"/api/v1/r{i % 10}"},
                "source": "gateway",
            }
        )  # fmt: skip
    return orjson.dumps({"samples": samples})


def _request(port: int, body: bytes) -> bytes:
    head = (
        f"POST /metrics/track HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _row(name: str, result: LoadResult) -> str:
    ok = result.statuses.get(200, 0)
    return (
        f"| {name} | {result.target_rps:,.0f} | {result.achieved_rps:,.0f} | "
        f"{result.achieved_rps * BATCH:,.0f} | {result.percentile(50):.2f} | "
        f"{result.percentile(99):.2f} | {ok:,} | {result.errors} |"
    )


async def _http(
    rates: list[float], duration: float, rounds: int
) -> tuple[list[str], list[float], list[float]]:
    """Both servers up at once; latency rows at fixed rates, then saturation rounds that
    alternate between the two servers (so load drifts of a shared machine hit both)."""
    body = _batch()
    metrics_rows: list[str] = []
    bare_rows: list[str] = []
    saturated: dict[str, list[float]] = {"metrics": [], "bare": []}
    port, bare_port = new_port(), new_port()
    env = {
        "ACCESS_ENV": "local",
        "ACCESS_PORT": str(port),
        "ACCESS_LOG_LEVEL": "warning",
        "ACCESS_STATE_DIR": tempfile.mkdtemp(prefix="access-bench-"),
    }
    servers = {"metrics": port, "bare": bare_port}
    with (
        serving([sys.executable, "-m", "access_metrics"], env, port, "/health/live"),
        serving(uvicorn_argv("bench.bare_track:app", bare_port), {}, bare_port, "/docs"),
    ):
        for rate in rates:
            for name, rows in (("metrics", metrics_rows), ("bare", bare_rows)):
                target = servers[name]
                result = await run_load("127.0.0.1", target, _request(target, body), rate=rate,
                                        duration=duration)  # fmt: skip
                label = ("metrics POST /metrics/track" if name == "metrics"
                         else "bare FastAPI route (parses the body)")  # fmt: skip
                rows.append(_row(label, result))
        for _ in range(rounds):
            for name, target in servers.items():
                rps = await saturate("127.0.0.1", target, _request(target, body), duration=3.0)
                saturated[name].append(rps)
    return metrics_rows + bare_rows, saturated["metrics"], saturated["bare"]


def _kind(family: int, histograms: bool) -> MetricType:
    if histograms and family >= 8:
        return MetricType.HISTOGRAM
    return MetricType.COUNTER if family % 2 == 0 else MetricType.GAUGE


def _states(series: int, histograms: bool) -> list[FamilyState]:
    """10 families of counters and gauges (2 of them histograms if asked): ``series`` in all."""
    labels = ("service", "route", "upstream")
    per_family = series // 10
    states = []
    for f in range(10):
        kind = _kind(f, histograms)
        spec = FamilySpec(f"bench_family_{f}", kind, labels, "bench", DEFAULT_BUCKETS if
                          kind is MetricType.HISTOGRAM else ())  # fmt: skip
        state = FamilyState(spec)
        for i in range(per_family):
            state.apply(("gateway", f"/api/v1/r{i % 97}", f"u{i}"), float(i % 13))
        states.append(state)
    return states


def _client_registry(series: int, histograms: bool) -> CollectorRegistry:
    registry = CollectorRegistry()
    per_family = series // 10
    for f in range(10):
        names = ("service", "route", "upstream")
        kind = _kind(f, histograms)
        if kind is MetricType.COUNTER:
            metric: Counter | Gauge | Histogram = Counter(f"bench_family_{f}", "bench", names,
                                                          registry=registry)  # fmt: skip
        elif kind is MetricType.GAUGE:
            metric = Gauge(f"bench_family_{f}", "bench", names, registry=registry)
        else:
            metric = Histogram(f"bench_family_{f}", "bench", names, registry=registry)
        for i in range(per_family):
            child = metric.labels("gateway", f"/api/v1/r{i % 97}", f"u{i}")
            if isinstance(child, Counter):
                child.inc(i % 13)
            elif isinstance(child, Gauge):
                child.set(i % 13)
            else:
                child.observe(i % 13)
    return registry


def _timed(work: object, repeat: int) -> tuple[float, float]:
    assert callable(work)
    work()  # warm: caches filled, as from the second scrape on
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def _render(series: int, repeat: int, histograms: bool) -> list[str]:
    states = _states(series, histograms)
    renderer = Renderer()
    registry = _client_registry(series, histograms)
    text = renderer.render(states, openmetrics=False)
    what = "2,000 of them histograms" if histograms else "counters and gauges"
    label = f"{series:,} series, {what} ({text.count(chr(10)):,} lines, {len(text) >> 10:,} KiB)"
    rows = []
    for name, work in (
        ("metrics service, text 0.0.4", lambda: renderer.render(states, openmetrics=False)),
        ("metrics service, OpenMetrics", lambda: renderer.render(states, openmetrics=True)),
        ("prometheus-client generate_latest", lambda: generate_latest(registry)),
    ):
        median, worst = _timed(work, repeat)
        rows.append(f"| {label} | {name} | {median:.1f} | {worst:.1f} |")
    return rows


async def run(*, quick: bool = False) -> str:
    """Measure and return the markdown section."""
    repeat = 5 if quick else 20
    render_rows = _render(10_000, repeat, False) + _render(10_000, max(3, repeat // 4), True)
    duration = 3.0 if quick else 6.0
    rates = [200.0] if quick else [200.0, 400.0]
    rounds = 2 if quick else 5
    rows, metrics_rps, bare_rps = await _http(rates, duration, rounds)
    ratios = [m / b for m, b in zip(metrics_rps, bare_rps, strict=True)]
    ratio = statistics.median(ratios)
    metrics_best = statistics.median(metrics_rps)
    bare_best = statistics.median(bare_rps)
    header = (
        "| server | target req/s | achieved req/s | samples/s | p50 ms | p99 ms | 200s | errors |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    return "\n".join(
        [
            "## Metrics service",
            "",
            f"`POST /metrics/track` with batches of {BATCH} samples (counters, gauges, histogram",
            "observations; 2 labels each; about 12 KiB), one uvicorn worker, in-memory store,",
            f"open-loop load, {duration:.0f} s per row after 1 s warm-up. The baseline is a bare",
            "FastAPI route that reads and parses the same body with orjson:",
            "",
            header,
            *rows,
            "",
            f"Saturated (16 keep-alive connections back to back, {rounds} rounds of 3 s "
            "alternating between the two servers; medians): metrics service "
            f"{metrics_best:,.0f} req/s ({metrics_best * BATCH:,.0f} samples/s), bare route "
            f"{bare_best:,.0f} req/s; per-round ratios "
            f"{', '.join(f'{r:.0%}' for r in ratios)}: median **{ratio:.0%}** of the bare route "
            "(target: at least 60%).",
            "",
            "`/metrics` render of 10,000 series (label sets) in process, median and worst of",
            f"{repeat} renders after a warm-up (label parts are cached from the first scrape on);",
            "a histogram series is 18 lines (15 buckets, +Inf, count, sum):",
            "",
            "| series | renderer | median ms | worst ms |",
            "|---|---|---|---|",
            *render_rows,
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(run(quick=True)))
