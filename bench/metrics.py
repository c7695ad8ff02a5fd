"""Metrics service benchmark: batches of 100 samples over HTTP, and /metrics of 10,000 series.

Ingestion runs the real metrics service (one uvicorn worker, in-memory store) and, in
the same run, a bare FastAPI route that receives and parses the same body, each at
fixed request rates from the open-loop generator on the other core. Rendering is
measured in process: this service's renderer against prometheus-client's
``generate_latest`` over the same 10,000 series.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from access_metrics.exposition.render import Renderer
from access_metrics.series.model import DEFAULT_BUCKETS, FamilySpec, FamilyState, MetricType
from bench.load import LoadResult, run_load
from bench.servers import new_port, server_process, uvicorn_argv
from bench.wrk import WrkResult, ensure_wrk, run_wrk

__all__ = ["run"]

BATCH = 100
# As bench.throughput: each server on core 0, the load tool on core 1.
SERVER_CPU = 0
LOAD_CPU = 1
_LABELS = {
    "metrics": "metrics POST /metrics/track",
    "bare": "bare FastAPI route (parses the body)",
}


@dataclass(frozen=True, slots=True)
class HttpRun:
    """Latency rows, then wrk's saturation rounds of each server."""

    rows: list[str]
    metrics: list[WrkResult]
    bare: list[WrkResult]


def _batch() -> bytes:
    """100 samples as a gateway pusher sends them: counters, gauges and observations."""
    samples = []
    for i in range(BATCH):
        kind = ("counter", "counter", "gauge", "histogram")[i % 4]
        samples.append(
            {
                "name": {
                    "counter": "gateway_upstream_calls_total",
                    "gauge": "gateway_pool_size",
                    "histogram": "gateway_upstream_seconds",
                }[kind],
                "type": kind,
                "value": 1 + (i % 7) * 0.01,
                "labels": {"upstream": f"u{i % 5}", "route": f"/api/v1/r{i % 10}"},
                "source": "gateway",
            }
        )
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


ANALYSIS = """Where the time goes (issue #20; in process, CPU time per request, the best of 15
rounds of 200 requests, the machine shared): the bare route 0.15-0.16 ms, the metrics
service 0.40-0.46 ms (0.55 ms before this round of work). Both pay FastAPI's routing,
request and response handling (~0.1 ms) and orjson's decode of the 12 KiB body
(~0.05 ms). On top, the metrics service pays validation of 100 samples ~0.09 ms (was
0.2), aggregation ~0.035 ms (was 0.085), the platform's request middleware ~0.05 ms
(ids, RED metrics, access line; measured by removing it) and its own metrics and
response ~0.02 ms.

What changed: a series accepted once (same name, type, source and label set, exactly as
sent) is on a fast path: one dict lookup keyed by those strings (equal keys mean equal,
already validated strings), then one chained comparison of the value against the bounds of
its type (a counter increment finite and >= 0, an observation finite, a gauge anything;
NaN fails every comparison), so no regex, no per-label check and no pydantic model per
sample. A series enters the fast path only after it was aggregated (a series refused by
the cap never does, so a label flood cannot fill the table; the table is bounded), and
anything unusual (a first sight, a missing or extra field, a wrong type, NaN/Inf strings,
other buckets) takes the full validation with its precise error code. Ops are plain
tuples (a NamedTuple's constructor cost four times as much), the memory store aggregates
histograms inline, accepted samples are counted per type in a list (an enum member hashes
in Python), the route has no FastAPI dependency (~25 µs a request) and answers orjson
bytes of its typed response (its schema stays in OpenAPI).

What bounds the rest: per sample, building and hashing the key (~0.5 µs: five fresh
strings from orjson, whose hashes are not cached) and the bound check and op (~0.4 µs);
per request, the platform middleware (shared by every service, not changed here) and
FastAPI. A decoder into typed structs in C (msgspec; tried in the previous round) would
take about a tenth off, not added as a dependency for that. More samples per second come
from `ACCESS_WORKERS` (one per core) with the Redis store."""


def _wrk_script(directory: Path, body: bytes) -> Path:
    """A wrk Lua script posting ``body`` as JSON on every request."""
    (directory / "batch.json").write_bytes(body)
    script = directory / "track.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{directory / "batch.json"}", "rb")\n'
        'wrk.body = f:read("*a")\n'
        "f:close()\n"
    )
    return script


async def _http(rates: list[float], duration: float, rounds: int, seconds: float) -> HttpRun:
    """Both servers up at once, each one worker pinned to core 0.

    Latency rows at fixed rates (the open-loop generator on core 1), then saturation rounds
    with wrk on core 1 alternating between the two servers, so a load drift of the shared
    machine hits both; each ratio is taken within its round.
    """
    ensure_wrk()
    body = _batch()
    work = Path(tempfile.mkdtemp(prefix="access-bench-"))
    script = _wrk_script(work, body)
    rows: dict[str, list[str]] = {"metrics": [], "bare": []}
    saturated: dict[str, list[WrkResult]] = {"metrics": [], "bare": []}
    port, bare_port = new_port(), new_port()
    env = {
        "ACCESS_ENV": "local",
        "ACCESS_PORT": str(port),
        "ACCESS_LOG_LEVEL": "warning",
        "ACCESS_STATE_DIR": str(work),
    }
    ports = {"metrics": port, "bare": bare_port}
    with ExitStack() as stack:
        procs = {
            "metrics": stack.enter_context(
                server_process(
                    [sys.executable, "-m", "access_metrics"],
                    env,
                    port,
                    "/health/live",
                    cpu=SERVER_CPU,
                )
            ),
            "bare": stack.enter_context(
                server_process(
                    uvicorn_argv("bench.bare_track:app", bare_port),
                    {},
                    bare_port,
                    "/docs",
                    cpu=SERVER_CPU,
                )
            ),
        }
        os.sched_setaffinity(0, {LOAD_CPU})
        try:
            for rate in rates:
                for name, target in ports.items():
                    result = await run_load("127.0.0.1", target, _request(target, body),
                                            rate=rate, duration=duration)  # fmt: skip
                    rows[name].append(_row(_LABELS[name], result))
        finally:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        for _ in range(rounds):
            for name, target in ports.items():
                saturated[name].append(
                    run_wrk(
                        f"http://127.0.0.1:{target}/metrics/track",
                        server_pid=procs[name].pid,
                        seconds=seconds,
                        cpu=LOAD_CPU,
                        script=script,
                    )
                )
    return HttpRun(rows["metrics"] + rows["bare"], saturated["metrics"], saturated["bare"])


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


def _per_cpu_second(result: WrkResult) -> float:
    return result.rps / result.server_cpu if result.server_cpu else 0.0


def _saturation(run: HttpRun) -> tuple[list[str], float, float]:
    """The wrk table, and the median per-round ratios (req/s, req per server CPU-second)."""
    ratios = [m.rps / b.rps for m, b in zip(run.metrics, run.bare, strict=True)]
    cpu_ratios = [
        _per_cpu_second(m) / _per_cpu_second(b) for m, b in zip(run.metrics, run.bare, strict=True)
    ]
    rows = [
        "| server | req/s | samples/s | req per server CPU-s | server core busy | "
        "wrk core busy | non-2xx |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, results in (("metrics", run.metrics), ("bare", run.bare)):
        rps = statistics.median(r.rps for r in results)
        rows.append(
            f"| {_LABELS[name]} | {rps:,.0f} | {rps * BATCH:,.0f} | "
            f"{statistics.median(_per_cpu_second(r) for r in results):,.0f} | "
            f"{statistics.median(r.server_cpu for r in results):.0%} | "
            f"{statistics.median(r.wrk_cpu for r in results):.0%} | "
            f"{sum(r.non_2xx + r.errors for r in results)} |"
        )
    return rows, statistics.median(ratios), statistics.median(cpu_ratios)


async def run(*, quick: bool = False) -> str:
    """Measure and return the markdown section."""
    repeat = 5 if quick else 20
    render_rows = _render(10_000, repeat, False) + _render(10_000, max(3, repeat // 4), True)
    duration = 3.0 if quick else 6.0
    rates = [200.0] if quick else [200.0, 400.0]
    rounds = 2 if quick else 5
    seconds = 3.0 if quick else 8.0
    http = await _http(rates, duration, rounds, seconds)
    saturation, ratio, cpu_ratio = _saturation(http)
    per_round = ", ".join(f"{m.rps / b.rps:.0%}" for m, b in zip(http.metrics, http.bare,
                                                                 strict=True))  # fmt: skip
    header = (
        "| server | target req/s | achieved req/s | samples/s | p50 ms | p99 ms | 200s | errors |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    return "\n".join(
        [
            "## Metrics service",
            "",
            f"`POST /metrics/track` with batches of {BATCH} samples (counters, gauges, histogram",
            "observations; 2 labels each; about 12 KiB), one uvicorn worker pinned to core 0,",
            "in-memory store. The baseline is a bare FastAPI route that reads and parses the",
            "same body with orjson, measured in the same run.",
            "",
            f"Saturated: wrk `-t1 -c32` keep-alive on core 1, {rounds} rounds of {seconds:.0f} s",
            "alternating between the two servers (medians; each ratio taken within its round).",
            "'wrk core busy' well below 'server core busy' means the server is the limit:",
            "",
            *saturation,
            "",
            f"Share of the bare route: **{ratio:.0%}** of its req/s (per round: {per_round}), "
            f"{cpu_ratio:.0%} per server CPU-second (target: at least 60%).",
            "",
            f"Open-loop latency (Python generator on core 1, {duration:.0f} s per row after 1 s",
            "warm-up; latency from each request's scheduled time):",
            "",
            header,
            *http.rows,
            "",
            "`/metrics` render of 10,000 series (label sets) in process, median and worst of",
            f"{repeat} renders after a warm-up (label parts are cached from the first scrape on);",
            "a histogram series is 18 lines (15 buckets, +Inf, count, sum):",
            "",
            "| series | renderer | median ms | worst ms |",
            "|---|---|---|---|",
            *render_rows,
            "",
            ANALYSIS,
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(run(quick=True)))
