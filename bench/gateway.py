"""Gateway benchmark: a cached read through the whole pipeline, an uncached read, the same
request sent straight to the upstream and a bare FastAPI route, in one run.

Every server is one uvicorn worker: the gateway, the real auth service (dev issuer), an
always-allow entitlements stand-in, the development projection upstream. Throughput is
measured with wrk (closed loop, 32 connections: it saturates); latency at half of each
row's throughput with the open-loop generator of bench/load.py. Then a Zipf workload
after a cache warm gives the hit ratio, and the HTTP client rows compare the candidate
clients for the inter-service hops (bench/http_clients.py, docs/decisions/0003).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import httpx

from access_gateway.routing.table import BUILTIN_ROUTES
from bench.load import run_load
from bench.servers import new_port, serving, uvicorn_argv

__all__ = ["run"]

ANALYSIS = """What bounds it is CPU per request, read in the CPU columns (they move less than
req/s and latency when other work on this shared VM takes the cores, but they move too:
compare rows of one run). A cached read costs the gateway a little more CPU than the
bare route: uvicorn's HTTP handling and the shared request middleware are most of it,
the pipeline's own
stages (limiter, principal and decision lookups, cache, Server-Timing) tens of
microseconds. An uncached read adds a whole HTTP exchange as a client (`HttpClient`'s
httptools protocol: one send, the answer parsed by llhttp, an `httpx.Response` built)
plus the upstream's own work, so on two cores shared
by the gateway, the upstream and wrk it cannot approach a direct row that needs only the
upstream's process. With Redis, requests do not wait on it: the limiter leases blocks of
the shared budget (one Lua `INCRBY` per block, refilled in the background; decision
0006), so the Redis calls per request column stays near 0.01 far from the limits."""

_UNCACHED_ROUTE = """
  - id: bench.uncached
    path: /api/v1/bench/instruments/{id}
    upstream: projection
    upstream_path: /instruments/{id}
    entitlement: {action: read, resource: "instrument:{id}"}
"""
_LIMITS = """tiers:
  public: {requests: 10000000, window_seconds: 60, scope: ip}
  authenticated: {requests: 10000000, window_seconds: 60, scope: user}
  heavy: {requests: 10, window_seconds: 60, scope: user}
  cache_writes: {requests: 100, window_seconds: 60, scope: user}
"""


def _pid_of(port: int) -> int | None:
    """The server process listening on ``port`` (its port is in its argv or environment)."""
    needles = (f"ACCESS_PORT={port}".encode(), f"ACCESS_DEV_PROJECTION_PORT={port}".encode(),
               f"--port\0{port}".encode())  # fmt: skip
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if any(needle in blob for needle in needles) and b"wrk" not in blob[:64]:
            return int(entry.name)
    return None


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _store_calls(gateway: str) -> float:
    """The gateway's rate-limit store calls so far (``gateway_ratelimit_store_calls_total``)."""
    with urllib.request.urlopen(gateway + "/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(r"^gateway_ratelimit_store_calls_total ([\d.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return found


def _wrk_run(url: str, headers: dict[str, str], seconds: float) -> tuple[float, float, float, int]:
    """Requests/s, p50 and p99 (ms) and the request count of a saturating closed-loop run."""
    argv = [_wrk(), "-t1", "-c32", f"-d{seconds:.0f}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, url], check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors on {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]

    def quantile(label: str) -> float:
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        assert match is not None, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return rps, quantile("50"), quantile("99"), count


def _post(url: str, body: dict[str, object], headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return bytes(response.read())


def _get(url: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        return response.status, response.headers.get("x-cache", "")


def _raw(port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _zipf_urls(base: str) -> list[str]:
    """Distinct reads ranked by popularity: the warmed hot queries first, then the rest."""
    from access_gateway.dev_projection import data  # noqa: PLC0415

    hot = [
        "/api/v1/prices/latest", "/api/v1/instruments",
        *(f"/api/v1/curves/{c}" for c in ("NG-HH-FWD", "PWR-PJMW-PEAK-FWD", "BRENT-FWD",
          "WTI-FWD", "TTF-FWD", "PWR-ERCOTN-PEAK-FWD", "EUA-FWD")),
        "/api/v1/instruments?filters=commodity:power", "/api/v1/instruments?filters=commodity:gas",
        "/api/v1/instruments/NG-HH", "/api/v1/instruments/BRENT", "/api/v1/curves/JKM-FWD",
        "/api/v1/curves/NBP-FWD", "/api/v1/instruments?page=2",
    ]  # fmt: skip
    rest = [f"/api/v1/curves/{c}" for c in data.curve_ids()]
    rest += [f"/api/v1/instruments/{i.id}" for i in data.INSTRUMENTS]
    urls = list(dict.fromkeys(hot + rest))
    return [base + u for u in urls]


async def _zipf(base: str, headers: dict[str, str], requests: int) -> tuple[float, int]:
    urls = _zipf_urls(base)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(urls))]
    rng = random.Random(254)
    picks = rng.choices(urls, weights, k=requests)
    seen: Counter[str] = Counter()
    async with httpx.AsyncClient(headers=headers, timeout=10) as client:
        for start in range(0, len(picks), 16):
            answers = await asyncio.gather(*(client.get(u) for u in picks[start : start + 16]))
            seen.update(a.headers.get("x-cache", "?") for a in answers)
    hits = seen["HIT"] + seen["STALE"]
    return hits / max(1, sum(seen.values())), len(urls)


def _client_rows(url: str, seconds: float) -> list[str]:
    """The client candidates, measured in a process of their own (bench/http_clients.py)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.http_clients", url, str(seconds)],
        check=True, capture_output=True, text=True, timeout=600,
    ).stdout  # fmt: skip
    return [
        f"| {row['client']} | {row['concurrency']} | {row['rps']:,.0f} | {row['cpu_ms']:.3f} | "
        f"{row['loop_cpu_ms']:.3f} | {row['p50_ms']:.2f} |"
        for row in json.loads(out)
    ]


async def run(*, quick: bool = False) -> str:
    """Measure and return the markdown section."""
    seconds = 3.0 if quick else 10.0
    scratch = Path(tempfile.mkdtemp(prefix="access-bench-gw-"))
    routes = scratch / "routes.yaml"
    routes.write_text(BUILTIN_ROUTES.read_text() + _UNCACHED_ROUTE)
    limits = scratch / "limits.yaml"
    limits.write_text(_LIMITS)
    quiet = {"ACCESS_LOG_LEVEL": "warning", "ACCESS_ENV": "local"}
    ports = {name: new_port() for name in ("auth", "peers", "projection", "gateway")}
    auth_env = {**quiet, "ACCESS_PORT": str(ports["auth"]), "ACCESS_STATE_DIR": str(scratch)}
    projection_env = {
        "ACCESS_DEV_PROJECTION_PORT": str(ports["projection"]),
        "ACCESS_DEV_PROJECTION_LOG_LEVEL": "warning",
    }
    gateway_env = {
        **quiet,
        "ACCESS_PORT": str(ports["gateway"]),
        "ACCESS_AUTH_SERVICE_URL": f"http://127.0.0.1:{ports['auth']}",
        "ACCESS_ENTITLEMENTS_SERVICE_URL": f"http://127.0.0.1:{ports['peers']}",
        "ACCESS_PROJECTION_SERVICE_URL": f"http://127.0.0.1:{ports['projection']}",
        "ACCESS_ROUTES_FILE": str(routes),
        "ACCESS_RATE_LIMITS_FILE": str(limits),
    }
    redis = os.environ.get("ACCESS_BENCH_REDIS_URL") or None
    if redis:
        gateway_env["ACCESS_REDIS_URL"] = redis
    else:
        os.environ.pop("ACCESS_REDIS_URL", None)
    py = sys.executable
    with (
        serving([py, "-m", "access_auth"], auth_env, ports["auth"], "/health/live"),
        serving(uvicorn_argv("bench.gateway_peers:app", ports["peers"]), {}, ports["peers"],
                "/health/live"),
        serving([py, "-m", "access_gateway.dev_projection"], projection_env, ports["projection"],
                "/health/live"),
        serving([py, "-m", "access_gateway"], gateway_env, ports["gateway"], "/health/live"),
    ):  # fmt: skip
        auth = f"http://127.0.0.1:{ports['auth']}"
        tenant = f"bench-{int(time.time())}"
        token = json.loads(
            _post(
                auth + "/auth/dev/token", {"sub": "bench", "tenant_id": tenant, "roles": ["trader"]}
            )
        )["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        gw = f"http://127.0.0.1:{ports['gateway']}"
        up = f"http://127.0.0.1:{ports['projection']}"
        bare = f"http://127.0.0.1:{ports['peers']}"
        cases = [
            ("bare FastAPI route", bare, "/bare/instruments/NG-HH", {}),
            ("upstream direct", up, "/instruments/NG-HH", {"X-Tenant-ID": tenant}),
            ("gateway, uncached read", gw, "/api/v1/bench/instruments/NG-HH", bearer),
            ("gateway, cached read", gw, "/api/v1/instruments/NG-HH", bearer),
        ]
        pids = {name: _pid_of(port) for name, port in ports.items()}
        results = {}
        cpu: dict[str, tuple[float, float]] = {}
        store: dict[str, float | None] = {}
        for name, base, path, headers in cases:
            _get(base + path, headers)  # principal, decision and (cached route) answer now held
            served_by = "peers" if base == bare else "projection" if base == up else "gateway"
            before = (_cpu_seconds(pids[served_by]), _cpu_seconds(pids["projection"]))
            calls = _store_calls(gw) if base == gw else 0.0
            results[name] = _wrk_run(base + path, headers, seconds)
            count = results[name][3]
            store[name] = (_store_calls(gw) - calls) / count if base == gw and redis else None
            front = (_cpu_seconds(pids[served_by]) - before[0]) * 1000 / count
            behind = (_cpu_seconds(pids["projection"]) - before[1]) * 1000 / count
            cpu[name] = (front, behind if served_by == "gateway" else 0.0)
        half = {}
        for name, base, path, headers in cases:
            port = int(base.rsplit(":", 1)[1])
            rate = max(50.0, results[name][0] / 2)
            load = await run_load("127.0.0.1", port, _raw(port, path, headers), rate=rate,
                                  duration=seconds / 2)  # fmt: skip
            half[name] = (rate, load.percentile(50), load.percentile(99))
        _post(gw + "/api/v1/cache/warm", {}, bearer)
        ratio, distinct = await _zipf(gw, bearer, 1000 if quick else 5000)
        client_rows = _client_rows(up + "/instruments/NG-HH", seconds / 3)
    shutil.rmtree(scratch, ignore_errors=True)
    return _report(
        results, cpu, half, store, ratio, distinct, client_rows, seconds, redis is not None
    )


def _report(
    results: dict[str, tuple[float, float, float, int]],
    cpu: dict[str, tuple[float, float]],
    half: dict[str, tuple[float, float, float]],
    store_calls: dict[str, float | None],
    ratio: float,
    distinct: int,
    client_rows: list[str],
    seconds: float,
    redis: bool,
) -> str:
    bare = results["bare FastAPI route"][0]
    direct = results["upstream direct"][0]
    rows = []
    for name, (rps, p50, p99, _) in results.items():
        rate, half_p50, half_p99 = half[name]
        front, behind = cpu[name]
        calls = store_calls[name]
        rows.append(
            f"| {name} | {rps:,.0f} | {rps / bare:.0%} | {rps / direct:.0%} | {p50:.2f} | "
            f"{p99:.2f} | {front:.3f} | {behind:.3f} | "
            f"{'-' if calls is None else f'{calls:.4f}'} | {rate:,.0f} | {half_p50:.2f} | "
            f"{half_p99:.2f} |"
        )
    overhead_cached = half["gateway, cached read"][1] - half["bare FastAPI route"][1]
    overhead_uncached = half["gateway, uncached read"][1] - half["upstream direct"][1]
    store = "Redis (`ACCESS_BENCH_REDIS_URL`)" if redis else "the in-process store"
    return "\n".join([
        "## Gateway",
        "",
        f"One uvicorn worker per server, key-value store: {store}. `GET` of one instrument",
        "(about 300 bytes of JSON). wrk, 1 thread, 32 connections, "
        f"{seconds:.0f} s per row (saturating);",
        "then the open-loop generator at half of each row's throughput, "
        f"{seconds / 2:.0f} s per row.",
        "CPU ms/req is the serving process's user + system time per request during the wrk",
        "row (from /proc), with the upstream's beside it for the gateway rows. Redis",
        "calls/req: the rate limiter's `INCRBY`s per request during the wrk row (from",
        "`gateway_ratelimit_store_calls_total`; each leases a block of hits), `-` without Redis.",
        "",
        "| row | req/s (wrk) | of bare | of upstream | p50 ms | p99 ms | CPU ms/req | "
        "+ upstream CPU ms/req | Redis calls/req | half load req/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Gateway overhead at p50, half load: cached read {overhead_cached:+.2f} ms over the",
        f"bare route, uncached read {overhead_uncached:+.2f} ms over the upstream.",
        f"Hit ratio on a Zipf (s = 1.1) workload over {distinct} distinct reads after a cache",
        f"warm: {ratio:.1%}.",
        "",
        "HTTP clients for the inter-service hops (bench/http_clients.py): GETs from one",
        "process's uvloop event loop to the development upstream, "
        f"{seconds / 3:.0f} s per row. CPU ms/call is",
        "the client process's whole CPU per call; event-loop CPU its loop thread's share (the",
        "Rust clients do their I/O on threads of their own); p50 the median call. Clients not",
        "installed are left out (aiohttp, httpx and `HttpClient` always run).",
        "",
        "| client | concurrent calls | req/s | CPU ms/call | event-loop CPU ms/call | p50 ms |",
        "|---|---|---|---|---|---|",
        *client_rows,
        "",
        ANALYSIS,
    ])  # fmt: skip


if __name__ == "__main__":
    print(asyncio.run(run(quick=True)))
