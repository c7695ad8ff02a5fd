"""Webhook benchmark: signed webhooks into real JetStream vs the bare FastAPI route.

The gateway runs as in production (one uvicorn worker, ``python -m access_gateway``)
against a throwaway nats-server with file storage; every request is a distinct,
pre-signed seed 004 webhook (own nonce, own idempotency key), so each one is verified,
de-duplicated and published twice (raw + normalized) with JetStream acks before its
202. A bare FastAPI route that reads the body and answers 202 is measured the same way
in the same run. The generator is Python on raw asyncio streams (bench/load.py); its
requests are signed before the clock starts, so signing costs it nothing, and the
server's CPU use is read from /proc to show which side is the bottleneck.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from access_common.testing import nats_server
from bench.load import LoadResult, _read_response, run_load
from bench.servers import new_port, serving, uvicorn_argv

__all__ = ["run"]

SECRET = "bench-secret-0123456789abcdef0123456789"  # noqa: S105 - benchmark only
SENDERS = 64
_CLK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Ceiling:
    """A closed-loop run: responses per second, 2xx and other answers, server CPU."""

    rps: float
    ok: int
    other: int
    cpu: float
    tool: str
    nats_cpu: float = float("nan")

    @property
    def cpu_ms(self) -> float:
        """Server CPU milliseconds per response: steadier than req/s on a shared machine."""
        return 1000 * self.cpu / self.rps if self.rps else float("nan")


def _presigned(port: int, count: int) -> list[bytes]:
    """``count`` distinct signed TradingView webhooks as raw HTTP/1.1 requests."""
    tag = uuid.uuid4().hex[:8].upper()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    requests = []
    for i in range(count):
        body = orjson.dumps(
            {
                "ticker": f"B{tag}",
                "action": "buy",
                "price": 1.0945,
                "time": (base + timedelta(microseconds=i)).isoformat(),
            }
        )
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        head = (
            f"POST /webhook/tradingview HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\n"
            f"X-Timestamp: {stamp}\r\nX-Nonce: {tag}-{i}\r\n"
            f"X-Signature: sha256={digest}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


def _pid_on(port: int) -> int | None:
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"pid=(\d+)", out)
    return int(match.group(1)) if match else None


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK


async def _closed_loop(port: int, requests: list[bytes], duration: float) -> Ceiling:
    """SENDERS Python connections each sending its next request once answered."""
    statuses: Counter[int] = Counter()
    cursor = iter(requests)
    deadline = 0.0

    async def sender() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in cursor:
                if time.perf_counter() > deadline:
                    return
                writer.write(request)
                statuses[await _read_response(reader)] += 1
        finally:
            writer.close()

    pid = _pid_on(port)
    cpu_before = _cpu_seconds(pid)
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    elapsed = time.perf_counter() - started
    cpu = (_cpu_seconds(pid) - cpu_before) / elapsed
    ok = sum(n for status, n in statuses.items() if status < 300)
    return Ceiling(sum(statuses.values()) / elapsed, ok, sum(statuses.values()) - ok, cpu, "python")


_WRK_SCRIPT = """
local requests, i = {}, 0
function init(args)
  local file = io.open(args[1], "rb")
  local data = file:read("*a")
  file:close()
  for request in string.gmatch(data, "(.-)%z") do requests[#requests + 1] = request end
end
function request()
  i = i % #requests + 1
  return requests[i]
end
"""


def _wrk(port: int, requests: list[bytes], duration: float) -> Ceiling:
    """wrk (C, one thread, SENDERS connections) replaying pre-signed requests in order."""
    folder = Path(tempfile.mkdtemp(prefix="access-bench-wrk-"))
    script, data = folder / "presigned.lua", folder / "requests.bin"
    script.write_text(_WRK_SCRIPT)
    data.write_bytes(b"".join(request + b"\0" for request in requests))
    pid = _pid_on(port)
    cpu_before, started = _cpu_seconds(pid), time.perf_counter()
    out = subprocess.run(
        ["wrk", "-t1", f"-c{SENDERS}", f"-d{duration:.0f}s", "-s", str(script),
         f"http://127.0.0.1:{port}", "--", str(data)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    cpu = (_cpu_seconds(pid) - cpu_before) / (time.perf_counter() - started)
    shutil.rmtree(folder, ignore_errors=True)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    other = int(bad.group(1)) if bad else 0
    return Ceiling(rps, total - other, other, cpu, "wrk")


async def _ceiling(port: int, requests: list[bytes], duration: float) -> Ceiling:
    """wrk when installed (C: the generator is not the bottleneck), else Python."""
    if shutil.which("wrk"):
        return await asyncio.to_thread(_wrk, port, requests, duration)
    return await _closed_loop(port, requests, duration)


def _row(name: str, result: LoadResult) -> str:
    ok = sum(n for status, n in result.statuses.items() if status < 300)
    return (
        f"| {name} | {result.target_rps:,.0f} | {result.achieved_rps:,.0f} | "
        f"{result.percentile(50):.2f} | {result.percentile(99):.2f} | "
        f"{result.percentile(99.9):.2f} | {ok:,} | "
        f"{len(result.latencies) - ok + result.errors:,} |"
    )


def _gateway_env(port: int, nats_url: str, state: str) -> dict[str, str]:
    return {
        "ACCESS_ENV": "local",
        "ACCESS_PORT": str(port),
        "ACCESS_LOG_LEVEL": "warning",
        "ACCESS_STATE_DIR": state,
        "API_KEY_HMAC_SECRET": SECRET,
        "NATS_URL": nats_url,
        "RATE_LIMIT_RPS": "1000000",
        "ACCESS_AUTH_SERVICE_URL": "http://127.0.0.1:9",
        "ACCESS_ENTITLEMENTS_SERVICE_URL": "http://127.0.0.1:9",
    }


async def _measure(duration: float) -> dict[str, object]:
    results: dict[str, object] = {}
    state = tempfile.mkdtemp(prefix="access-bench-")
    bare_port = new_port()
    with serving(uvicorn_argv("bench.bare_app:app", bare_port), {}, bare_port, "/docs"):
        warm = _presigned(bare_port, 2000)
        await _closed_loop(bare_port, warm, 1.0)
        bare = _presigned(bare_port, 20_000)
        results["bare"] = await _ceiling(bare_port, bare, duration)
    server = nats_server(Path(state) / "js")
    server.start()
    try:
        port = new_port()
        env = _gateway_env(port, f"nats://127.0.0.1:{server.port}", state)
        with serving([sys.executable, "-m", "access_gateway"], env, port, "/healthz"):
            await _closed_loop(port, _presigned(port, 2000), 1.0)  # warm-up, stream created
            signed = _presigned(port, 80_000)
            nats_pid = _pid_on(server.port)
            nats_before, started = _cpu_seconds(nats_pid), time.perf_counter()
            gateway = await _ceiling(port, signed, duration)
            nats_cpu = (_cpu_seconds(nats_pid) - nats_before) / (time.perf_counter() - started)
            gateway = dataclasses.replace(gateway, nats_cpu=nats_cpu)
            results["gateway"] = gateway
            half = max(50.0, round(gateway.rps / 2, -1))
            fresh = _presigned(port, int(half * (duration + 1)) + 100)
            results["gateway_half"] = await run_load(
                "127.0.0.1", port, fresh, rate=half, duration=duration, connections=SENDERS
            )
            health = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
            results["healthz"] = await run_load(
                "127.0.0.1", port, health, rate=200, duration=min(duration, 3.0)
            )
    finally:
        server.close()
        shutil.rmtree(state, ignore_errors=True)
    bare_port = new_port()
    with serving(uvicorn_argv("bench.bare_app:app", bare_port), {}, bare_port, "/docs"):
        half_rate = float(results["gateway_half"].target_rps)  # type: ignore[attr-defined]
        results["bare_half"] = await run_load(
            "127.0.0.1",
            bare_port,
            _presigned(bare_port, 1000),
            rate=half_rate,
            duration=duration,
            connections=SENDERS,
        )
    return results


async def run(*, quick: bool = False) -> str:
    """Measure and return the markdown section."""
    duration = 3.0 if quick else 10.0
    results = await _measure(duration)
    bare: Ceiling = results["bare"]  # type: ignore[assignment]
    gateway: Ceiling = results["gateway"]  # type: ignore[assignment]
    half: LoadResult = results["gateway_half"]  # type: ignore[assignment]
    bare_half: LoadResult = results["bare_half"]  # type: ignore[assignment]
    healthz: LoadResult = results["healthz"]  # type: ignore[assignment]
    ratio = gateway.rps / bare.rps if bare.rps else float("nan")
    cpu_ratio = bare.cpu_ms / gateway.cpu_ms if gateway.cpu_ms else float("nan")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return "\n".join(
        [
            "## Webhooks (signed signals into JetStream)",
            "",
            f"Ceiling: {SENDERS} concurrent senders, each sending its next request as soon as",
            "the previous one is answered (closed loop), "
            f"{duration:.0f} s after a warm-up. Gateway: every",
            "request a distinct seed 004 webhook (HMAC over the body, new nonce, new",
            "idempotency key), verified, claimed in the key-value store (in-process here) and",
            "published to `signals.raw` and `signals.normalized` with both JetStream acks",
            "awaited before the 202 (nats-server with file storage on this machine).",
            "",
            f"Generator: {gateway.tool} (one thread, {SENDERS} connections, replaying the",
            "pre-signed requests in order).",
            "",
            "| server | responses/s | 2xx | other | server CPU (share of one core) "
            "| server CPU per response |",
            "|---|---|---|---|---|---|",
            f"| bare FastAPI route (reads the body, 202) | {bare.rps:,.0f} | {bare.ok:,} | "
            f"{bare.other:,} | {bare.cpu:.0%} | {bare.cpu_ms:.3f} ms |",
            f"| gateway `POST /webhook/tradingview` | {gateway.rps:,.0f} | {gateway.ok:,} | "
            f"{gateway.other:,} | {gateway.cpu:.0%} (nats-server: {gateway.nats_cpu:.0%}) | "
            f"{gateway.cpu_ms:.3f} ms |",
            "",
            f"Gateway / bare: **{ratio:.0%}**; by CPU per response (what a saturated core "
            f"would give): **{cpu_ratio:.0%}**. Load average when the run ended: {load}",
            "(2 cores; above 1 the machine was shared while this ran).",
            "",
            "Latency at half the gateway's ceiling, open loop (latency from the scheduled",
            f"send time), {SENDERS} connections, {duration:.0f} s after 1 s warm-up:",
            "",
            "| server | target req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | 2xx | other |",
            "|---|---|---|---|---|---|---|---|",
            _row("gateway signed webhook + JetStream acks", half),
            _row("bare FastAPI route", bare_half),
            _row("gateway `GET /healthz`", healthz),
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(run(quick=True)))
