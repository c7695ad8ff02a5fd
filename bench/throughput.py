"""Throughput of the platform stack against a bare FastAPI route, one core each side.

Every server is one worker pinned to core 0, wrk (``-t1 -c32``, keep-alive) runs on
core 1. Rows: the bare route, auth's ``GET /health/live`` (whole ``access_common``
stack, access log at INFO written to a file), ``POST /auth/verify`` with one token
again and again (the recently-verified map answers), and with first-seen tokens from
a pool of distinct valid tokens (RS256 and ES256; the pool is larger than the map, so
every request is a signature check). All rows are measured in rounds, bare included
in every round, and each ratio is taken within its round. Then the open-loop latency
rows: each route at half of its measured maximum rate, and the bare route at the same
rate.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from access_auth.testing import AUDIENCE, CLIENT_ID, ISSUER, claims, ec_key, jwk_of, rsa_key, sign
from bench.load import run_load
from bench.servers import new_port, server_process, uvicorn_argv
from bench.wrk import WrkResult, ensure_wrk, post_script, run_wrk

__all__ = ["run"]

SERVER_CPU = 0
LOAD_CPU = 1
VERIFY = "/auth/verify"
RECENT_TOKENS = 1000  # the auth map's size in this bench; the pools are twice as large


ANALYSIS = """Where the time went (py-spy `record --rate 1000` on the auth worker under wrk, against
the bare app in the same run; issue #14). First round: the access line was about a third
of a `/health/live` request (`logging` LogRecord, `JsonFormatter`, a write plus flush per
request) -> one orjson encode into a buffer written in PIPE_BUF-sized batches or after
50 ms (`AccessLog`); Prometheus `labels()` per request -> children cached per (method,
route template, status); one pass over the headers; the body counted only without a
Content-Length; `/auth/verify` answering orjson bytes of the principal; the
recently-verified map evicting in O(1); PyJWT's per-byte base64url scan replaced by a
regex (`FastJWS`).
Second round (the profile of the first round's code): FastAPI's dependency solving was
14% of a repeated-token `/auth/verify` and 8% of `/health/live`; FastAPI 0.165's own
OpenTelemetry check (`NativeTelemetry.enabled`, reading the global providers and the
environment on every request even with none configured) 5-6%, paid by the bare route
too; minting the trace, span and request ids two reads of the random source (3%);
the access line's redaction running three regexes over the whole message (3.5%); a
first-seen token's header base64-decoded and JSON-parsed a second time by PyJWT.
Changes: `access_common.routes.DirectRoute` - an `APIRoute` FastAPI documents as before
(OpenAPI unchanged; `make contract-check`) whose endpoint is called straight from the
Request with its optional string headers, refused at build time if it needs any solving
(`/auth/verify`, `/health/live` of every service); FastAPI's native telemetry off in
`build_app` (the middleware makes the platform's spans and RED metrics); `request_ids`
mints every id from one random read; `AccessLog.request` redacts only the path (and a
method outside the standard ones); `FastJWS.verify_compact` checks the signature on the
header the verifier already parsed (an RS256 check in process 67 -> 49 us; the
`cryptography` verify alone is 32 us).
What bounds the rest (profile of the final code, shares of the server's busy samples):
uvicorn's HTTP handling, paid by the bare route as much (parse and send, 30-32%); FastAPI
0.165 routing through included routers, which matches the selected router's routes
twice (`_IncludedRouter.matches`, then `_match` again in `_handle_selected`): 14% of
`/health/live`, 5% of `/auth/verify` (its router comes first); the middleware's own work
(ids 3%, metrics 2-3%, the access line 7.5%); the response object (Starlette's
`Response.__call__`, 12%, as for the bare route). On a first-seen token: the signature
check (`verify_compact` 17% of the request, two thirds of it in `cryptography`; an ES256
verify costs more than an RS256 one) and the claims mapping. More throughput per service
comes from `ACCESS_WORKERS` (one per core)."""


@dataclass(slots=True)
class Row:
    """One route under load: how to reach it, what to send, what it must reach."""

    name: str
    server: str
    path: str
    target: float | None = None
    tokens: list[str] = field(default_factory=list)
    results: list[WrkResult] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    cpu_ratios: list[float] = field(default_factory=list)


@contextmanager
def _jwks_server(jwks: dict[str, Any]) -> Iterator[str]:
    """Serve a JWKS on loopback (what Keycloak's certs endpoint would answer)."""
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()
        server.server_close()


def _pool(alg: str, size: int) -> list[str]:
    key = rsa_key() if alg == "RS256" else ec_key()
    kid = "rs" if alg == "RS256" else "es"
    exp = int(time.time()) + 3600
    return [sign(claims(sub=f"user-{i}", exp=exp), key, alg, kid=kid) for i in range(size)]


def _request(path: str, port: int, token: str) -> bytes:
    method = "GET" if path.startswith("/health") else "POST"
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _per_cpu_second(result: WrkResult) -> float:
    return result.rps / result.server_cpu if result.server_cpu else 0.0


def _throughput_table(rows: list[Row]) -> list[str]:
    lines = [
        "| route | req/s | req per server CPU-s | share of bare (CPU-s): median "
        "| min-max | target | share of bare (req/s) | server core busy | wrk core busy "
        "| non-2xx |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        rps = statistics.median(r.rps for r in row.results)
        per_cpu = statistics.median(_per_cpu_second(r) for r in row.results)
        server_cpu = statistics.median(r.server_cpu for r in row.results)
        wrk_cpu = statistics.median(r.wrk_cpu for r in row.results)
        non_2xx = sum(r.non_2xx + r.errors for r in row.results)
        target = f"≥ {_pct(row.target)}" if row.target else "baseline"
        lines.append(
            f"| {row.name} | {rps:,.0f} | {per_cpu:,.0f} | "
            f"{_pct(statistics.median(row.cpu_ratios))} | "
            f"{_pct(min(row.cpu_ratios))}-{_pct(max(row.cpu_ratios))} | {target} | "
            f"{_pct(statistics.median(row.ratios))} | "
            f"{_pct(server_cpu)} | {_pct(wrk_cpu)} | {non_2xx} |"
        )
    return lines


async def _latency_rows(rows: list[Row], ports: dict[str, int], seconds: float) -> list[str]:
    bare = rows[0]
    lines = [
        "| route | rate req/s | p50 ms | p99 ms | bare p99 ms at that rate | p99 - bare p99 ms "
        "| achieved req/s |",
        "|---|---|---|---|---|---|---|",
    ]
    token = (rows[2].tokens or [""])[0]
    for row in rows[1:]:
        rate = round(statistics.median(r.rps for r in row.results) / 2, -1)
        pool = row.tokens or [token]
        requests = [_request(row.path, ports[row.server], t) for t in pool]
        own = await run_load("127.0.0.1", ports[row.server], requests, rate=rate, duration=seconds)
        base = await run_load(
            "127.0.0.1",
            ports["bare"],
            [_request(bare.path, ports["bare"], token)],
            rate=rate,
            duration=seconds,
        )
        own99, base99 = own.percentile(99), base.percentile(99)
        lines.append(
            f"| {row.name} | {rate:,.0f} | {own.percentile(50):.2f} | {own99:.2f} | "
            f"{base99:.2f} | {own99 - base99:+.2f} | {own.achieved_rps:,.0f} |"
        )
    return lines


async def run(*, quick: bool = False) -> str:
    """Measure and return the markdown section."""
    ensure_wrk()
    seconds = 3.0 if quick else 10.0
    rounds = 1 if quick else 3
    pool_size = 2 * RECENT_TOKENS
    started = time.monotonic()
    repeat_token = _pool("RS256", 1)[0]
    rs256, es256 = _pool("RS256", pool_size), _pool("ES256", pool_size)
    rows = [
        Row("bare FastAPI route (POST, pydantic body)", "bare", "/auth/verify"),
        Row("auth `GET /health/live`, access log INFO", "auth", "/health/live", 0.80),
        Row("auth `POST /auth/verify`, same RS256 token", "auth", VERIFY, 0.70, [repeat_token]),
        Row("auth `POST /auth/verify`, first-seen RS256", "auth", VERIFY, 0.40, rs256),
        Row("auth `POST /auth/verify`, first-seen ES256", "auth", VERIFY, 0.30, es256),
    ]
    jwks = {"keys": [jwk_of(rsa_key(), "rs", alg="RS256"), jwk_of(ec_key(), "es", alg="ES256")]}
    work = Path(tempfile.mkdtemp(prefix="access-bench-"))
    auth_log = work / "auth.log"
    with ExitStack() as stack:
        jwks_url = stack.enter_context(_jwks_server(jwks))
        ports = {"bare": new_port(), "auth": new_port()}
        auth_env = {
            "ACCESS_ENV": "test",
            "ACCESS_PORT": str(ports["auth"]),
            "ACCESS_LOG_LEVEL": "info",
            "ACCESS_STATE_DIR": str(work),
            "ACCESS_JWKS_URL": jwks_url,
            "ACCESS_JWT_ISSUER": ISSUER,
            "ACCESS_JWT_AUDIENCE": AUDIENCE,
            "ACCESS_JWT_CLIENT_ID": CLIENT_ID,
            "ACCESS_JWT_RECENT_TOKENS": str(RECENT_TOKENS),
        }
        bare_argv = uvicorn_argv("bench.bare_app:app", ports["bare"])
        procs = {
            "bare": stack.enter_context(
                server_process(bare_argv, {}, ports["bare"], "/docs", cpu=SERVER_CPU)
            ),
            "auth": stack.enter_context(
                server_process(
                    [sys.executable, "-m", "access_auth"],
                    auth_env,
                    ports["auth"],
                    "/health/ready",
                    cpu=SERVER_CPU,
                    log=auth_log,
                )
            ),
        }
        lines_before = _count_lines(auth_log)
        scripts = {
            row.name: post_script(work, f"row{i}", row.tokens if len(row.tokens) > 1 else None)
            for i, row in enumerate(rows)
            if row.path != "/health/live"
        }
        for round_no in range(rounds):
            print(f"  throughput round {round_no + 1}/{rounds}", file=sys.stderr)
            for row in rows:
                token = (row.tokens or [repeat_token])[0]
                script = scripts.get(row.name)
                headers = {"Authorization": f"Bearer {token}"} if script else None
                result = run_wrk(
                    f"http://127.0.0.1:{ports[row.server]}{row.path}",
                    server_pid=procs[row.server].pid,
                    seconds=seconds,
                    cpu=LOAD_CPU,
                    script=script,
                    headers=headers,
                )
                row.results.append(result)
            base = rows[0].results[-1]
            for row in rows:
                row.ratios.append(row.results[-1].rps / base.rps)
                row.cpu_ratios.append(_per_cpu_second(row.results[-1]) / _per_cpu_second(base))
        auth_requests = sum(r.requests for row in rows[1:] for r in row.results)
        await asyncio.sleep(0.5)
        access_lines = _count_lines(auth_log) - lines_before
        os.sched_setaffinity(0, {LOAD_CPU})
        try:
            latency = await _latency_rows(rows, ports, seconds)
        finally:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    elapsed = time.monotonic() - started
    return "\n".join(
        [
            "## Throughput: the platform stack against a bare FastAPI route",
            "",
            f"One uvicorn worker (uvloop, httptools) per server pinned to core {SERVER_CPU}; "
            f"wrk `-t1 -c32` keep-alive on core {LOAD_CPU}; {seconds:.0f} s per row, "
            f"{rounds} round(s), the bare route measured in every round and each share taken "
            "within its round. Auth runs as in production (`ACCESS_ENV=test`, a JWKS served on "
            "loopback, RS256 and ES256 keys), its stdout (one JSON access line per request) "
            f"going to a file: {access_lines:,} access lines for {auth_requests:,} requests. "
            f"First-seen rows cycle a pool of {pool_size:,} distinct tokens through a "
            f"recently-verified map of {RECENT_TOKENS:,}, so none is answered from the map. "
            "'wrk core busy' well below 'server core busy' means the server, not the load tool, "
            "is the limit. The machine is shared: when other processes take part of core 0 the "
            "server is busy less than 100% of the time, so the shares are given per server "
            "CPU-second (requests / CPU time the server process used; stable under sharing) and "
            "per wall second.",
            "",
            *_throughput_table(rows),
            "",
            "Open-loop latency (Python generator on core 1, latency from each request's "
            "scheduled time): each route at half its median maximum above, and the bare route "
            "at the same rate in the same run.",
            "",
            *latency,
            "",
            ANALYSIS,
            "",
            f"This section took {elapsed / 60:.1f} min.",
        ]
    )


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
