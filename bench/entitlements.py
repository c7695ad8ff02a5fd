"""Entitlements benchmark: in-process evaluation, and check / check-batch over HTTP with wrk.

10,000 rules over 100 tenants in the real PostgreSQL of the test backends (a schema of
the run's own, dropped afterwards) with the real Redis as the shared tier; SQLite and
no Redis when those are not configured (the section says which). One uvicorn worker
per server, wrk (one thread, 32 connections) on the other core, saturating; the bare
FastAPI route of bench/bare_app.py is measured the same way in the same run.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from access_common.backends.postgres_store import PostgresStore
from access_common.backends.sqlite_store import SqliteStore
from access_common.backends.store import Store
from access_entitlements.rules.evaluator import TenantPolicy
from access_entitlements.rules.model import Effect, Rule
from access_entitlements.rules.repository import RuleRepository
from bench.load import LoadResult, run_load
from bench.servers import new_port, serving, uvicorn_argv

__all__ = ["run"]

TENANTS = 100
RULES_PER_TENANT = 100
ROLES = ("analyst", "trader", "quant", "risk", "ops")
NOW = datetime.now(UTC)


def tenant_rules(tenant_id: str, count: int = RULES_PER_TENANT) -> list[Rule]:
    """A tenant's rules: role prefixes on curves and topics, user exact rules, denies, admin."""
    specs: list[tuple[str, str, str, str]] = []
    for i in range(count):
        role = f"role:{ROLES[i % len(ROLES)]}"
        bucket = i % 10
        if bucket < 6:
            specs.append((role, "read", f"curve:C{i}_*", "allow"))
        elif bucket < 8:
            specs.append((role, "subscribe", f"topic:t{i}.*", "allow"))
        elif bucket < 9:
            specs.append((f"user:u{i}", "read", f"instrument:I{i}", "allow"))
        else:
            specs.append((role, "read", f"curve:C{i - 9}_X*", "deny"))
    specs[-1] = ("role:admin", "*", "*", "allow")
    return [
        Rule(
            id=f"{tenant_id}-{i:04}",
            tenant_id=tenant_id,
            subject=s,
            action=a,
            resource=r,
            effect=Effect(e),
            note=None,
            created_at=NOW,
            updated_at=NOW,
            created_by="bench",
            updated_by="bench",
        )
        for i, (s, a, r, e) in enumerate(specs)
    ]


def _evaluation_us(rules_per_tenant: int, seconds: float) -> float:
    """µs of CPU per check: the best of five runs (a neighbour's burst only slows a run)."""
    policy = TenantPolicy("t", 1, tenant_rules("t", rules_per_tenant))
    resources = [f"curve:C{i % 60}_M{i % 12}" for i in range(500)]
    resources += [f"topic:t{i % 80}.x" for i in range(250)]
    resources += [f"instrument:I{i}" for i in range(250)]
    roles = ("analyst", "quant")
    best = float("inf")
    for _ in range(5):
        count = 0
        started = time.process_time()
        while (elapsed := time.process_time() - started) < seconds / 5:
            for resource in resources:
                policy.evaluate("u8", roles, "read", resource)
            count += len(resources)
        best = min(best, elapsed / count * 1e6)
    return best


async def _seed(store: Store, prefix: str) -> None:
    repo = RuleRepository(store)
    await repo.ready()
    for t in range(TENANTS):
        tenant_id = f"{prefix}-{t:03}"
        async with await repo.transaction() as tx:
            for rule in tenant_rules(tenant_id):
                await repo.insert_rule(tx, rule)
            await repo.bump_version(tx, tenant_id, NOW)


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    assert found is not None, "wrk is not installed"
    return found


_CHECK = (
    '{"user_id":"%s","tenant_id":"%s","roles":["analyst","quant"],'
    '"action":"read","resource":"curve:C%d_M1"}'
)


def _script(kind: str, prefix: str) -> str:
    """A wrk Lua script: the same check (cached), distinct checks (uncached), or batches."""
    head = 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
    if kind == "cached":
        body = _CHECK % ("u1", f"{prefix}-007", 12)
        return head + f"wrk.path = '/entitlements/check'\nwrk.body = '{body}'\n"
    item = '{"action":"read","resource":"curve:C%d_M1"}'
    return (
        head
        + f"""
counter = 0
request = function()
  counter = counter + 1
  local tenant = string.format("{prefix}-%03d", counter % {TENANTS})
  local user = "w" .. counter
  if "{kind}" == "batch" then
    local items = {{}}
    for i = 0, 9 do items[#items + 1] = string.format('{item}', (counter + i) % 60) end
    local body = string.format('{{"user_id":"%s","tenant_id":"%s","roles":["analyst","quant"],'
      .. '"checks":[%s]}}', user, tenant, table.concat(items, ","))
    return wrk.format(nil, "/entitlements/check-batch", nil, body)
  end
  local body = string.format('{_CHECK}', user, tenant, counter % 60)
  return wrk.format(nil, "/entitlements/check", nil, body)
end
"""
    )


def _bare_script() -> str:
    return (
        'wrk.method = "POST"\nwrk.path = "/auth/verify"\n'
        'wrk.headers["Authorization"] = "Bearer x"\n'
    )


def _pid_on(port: int) -> int:
    """The process listening on a port (the uvicorn worker)."""
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], check=True, capture_output=True, text=True
    ).stdout
    match = re.search(r"pid=(\d+)", out)
    assert match is not None, f"nothing listens on {port}"
    return int(match[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_wrk(port: int, script: str, duration: float) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    pid = _pid_on(port)
    cpu_before = _cpu_seconds(pid)
    try:
        out = subprocess.run(
            [_wrk(), "-t1", "-c32", f"-d{duration:.0f}s", "--latency", "-s", handle.name,
             f"http://127.0.0.1:{port}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(handle.name)
    cpu = _cpu_seconds(pid) - cpu_before
    requests = float(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}  # type: ignore[index]
    result["cpu_us"] = cpu / requests * 1e6 if requests else float("nan")
    for pct in ("50", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        if match:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]
            result[f"p{pct}"] = float(match[1]) * scale
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = float(errors[1]) if errors else 0.0
    return result


async def _backends(prefix: str) -> tuple[dict[str, str], str, Store, str | None]:
    """The service's environment, a label, the store to seed, and a schema to drop."""
    pg = os.environ.get("ACCESS_TEST_POSTGRES_DSN")
    redis = os.environ.get("ACCESS_TEST_REDIS_URL")
    env: dict[str, str] = {}
    if pg:
        schema = f"bench_{prefix.replace('-', '_')}"
        admin = PostgresStore(pg)
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        await admin.close()
        dsn = f"{pg}{'&' if '?' in pg else '?'}search_path={schema}"
        env["ACCESS_POSTGRES_DSN"] = dsn
        store: Store = PostgresStore(dsn)
        label, dropped = "PostgreSQL", schema
    else:
        path = Path(tempfile.mkdtemp(prefix="access-bench-")) / "ent.sqlite3"
        env["ACCESS_SQLITE_PATH"] = str(path)
        store, label, dropped = SqliteStore(path), "SQLite (ACCESS_TEST_POSTGRES_DSN unset)", None
    if redis:
        env["ACCESS_REDIS_URL"] = redis
        label += " + Redis"
    return env, label, store, dropped


async def _drop(schema: str | None) -> None:
    if schema is None:
        return
    admin = PostgresStore(os.environ["ACCESS_TEST_POSTGRES_DSN"])
    await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await admin.close()


TEXT = """## Entitlements service

{rules:,} rules over {tenants} tenants ({per} each: role prefixes on curves and topics,
exact user rules, denies, one admin rule); store {label}. In-process evaluation
of one check against a tenant's compiled policy (curves, topics, instruments mixed):

| rules in the tenant | µs of CPU per check (best of 5 runs) |
|---|---|
| 100 | {eval_100:.1f} |
| 1,000 | {eval_1000:.1f} |

Over HTTP/1.1 keep-alive, one uvicorn worker each, wrk -t1 -c32 (saturating), {duration:.0f} s
per row, the rows interleaved over {rounds} round(s); medians, and the median of each round's
ratio to that round's bare route. On this shared machine req/s swings with the neighbours'
load, so the first columns are the server process's own CPU time per request (from
/proc, user + system): at saturation on one core, throughput is its inverse, and the
ratio of bare's CPU per request to the row's is the throughput the row keeps on a core
of its own. *cached*: the same check again and again (local tier).
*uncached*: every request a new user, tenants in turn, so every decision misses both tiers,
is evaluated (each tenant's compiled policy was read from the store once, in the warm-up)
and written back to Redis. *check-batch of 10*: ten uncached checks per request.
"""

ANALYSIS = """What bounds it: the service's own work on a cached check, timed part by part
in-process, is about 19 µs (reading the body 5.5, parsing it 2.5, checking the subject 3,
the decision from the local tier 5, the orjson answer 2.5); the rest is uvicorn, the
platform middleware every service shares (request and trace ids, RED metrics, access
line) and routing. Three changes came out of profiling: check and check-batch read their
bodies with pydantic-core and answer with orjson instead of FastAPI's json + response
validation; they skip dependency solving; and they are answered by plain Starlette routes
placed before FastAPI's (same functions; the FastAPI routes stay for the OpenAPI
contract), since FastAPI's per-request route handling was half of a cached check's CPU -
in-process, through the ASGI app, a cached check went from about 195 µs to 105 µs, level
with the bare route's. PostgreSQL is not on the hot path: it is read once per tenant per
policy version. The machine may be shared with other work while this runs
(1-minute load average {load_start:.1f} at the start, {load_end:.1f} at the end, on
{cores} cores): read the ratios, not the absolute numbers."""

KINDS = ("bare", "cached", "uncached", "batch")
SLO_RATE = 1000.0


def _raw_request(port: int, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _slo_row(name: str, result: LoadResult) -> str:
    return (
        f"| {name} | {result.target_rps:,.0f} | {result.achieved_rps:,.0f} | "
        f"{result.percentile(50):.2f} | {result.percentile(95):.2f} | "
        f"{result.percentile(99):.2f} | {result.statuses.get(200, 0):,} | {result.errors} |"
    )


ROUNDS = 5


def _target(kind: str, port: int, bare_port: int, prefix: str) -> tuple[int, str]:
    if kind == "bare":
        return bare_port, _bare_script()
    return port, _script(kind, prefix)


def _median(rounds: list[dict[str, dict[str, float]]], kind: str) -> dict[str, float]:
    """Per-field medians over the rounds, and the median ratio to the same round's bare."""
    fields = rounds[0][kind]
    result = {f: statistics.median(r[kind][f] for r in rounds) for f in fields}
    result["ratio"] = statistics.median(r[kind]["rps"] / r["bare"]["rps"] for r in rounds)
    result["cpu_ratio"] = statistics.median(r["bare"]["cpu_us"] / r[kind]["cpu_us"] for r in rounds)
    result["non2xx"] = sum(r[kind]["non2xx"] for r in rounds)
    return result


def _row(name: str, r: dict[str, float]) -> str:
    return (
        f"| {name} | {r['cpu_us']:,.0f} | {r['cpu_ratio']:.0%} | {r['rps']:,.0f} | "
        f"{r['ratio']:.0%} | {r.get('p50', float('nan')):.2f} | {r['non2xx']:,.0f} |"
    )


async def run(*, quick: bool = False) -> str:
    """Measure and return the markdown section."""
    load_start = os.getloadavg()[0]
    seconds = 1.0 if quick else 3.0
    eval_100 = _evaluation_us(100, seconds)
    eval_1000 = _evaluation_us(1000, seconds)
    duration = 3.0 if quick else 5.0
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    env, label, store, schema = await _backends(prefix)
    try:
        await _seed(store, prefix)
        await store.close()
        port = new_port()
        env.update({
            "ACCESS_ENV": "test", "ACCESS_PORT": str(port), "ACCESS_LOG_LEVEL": "warning",
            "ACCESS_STATE_DIR": tempfile.mkdtemp(prefix="access-bench-"),
        })  # fmt: skip
        bare_port = new_port()
        rounds: list[dict[str, dict[str, float]]] = []
        service = [sys.executable, "-m", "access_entitlements"]
        with (
            serving(service, env, port, "/health/live"),
            serving(uvicorn_argv("bench.bare_app:app", bare_port), {}, bare_port, "/docs"),
        ):
            # A short warm-up of each: every tenant's policy is read from the store once.
            for kind in KINDS:
                _run_wrk(*_target(kind, port, bare_port, prefix), 2)
            # Rows interleave, round after round, so a neighbour's burst on this shared
            # machine hits every row alike; each ratio is taken within one round.
            for _ in range(1 if quick else ROUNDS):
                rounds.append(
                    {k: _run_wrk(*_target(k, port, bare_port, prefix), duration) for k in KINDS}
                )
            # The seed's SLO is a latency at a working rate, not at saturation.
            slo = {
                name: await run_load(
                    "127.0.0.1", p, _raw_request(p, path, body), rate=SLO_RATE, duration=duration
                )
                for name, p, path, body in (
                    ("bare FastAPI route", bare_port, "/auth/verify", b""),
                    ("check, cached", port, "/entitlements/check",
                     (_CHECK % ("u1", f"{prefix}-007", 12)).encode()),
                )
            }  # fmt: skip
    finally:
        await _drop(schema)
    results = {k: _median(rounds, k) for k in KINDS}
    single_ms = results["uncached"]["cpu_us"] / 1000
    batch_ms = results["batch"]["cpu_us"] / 1000
    header = (
        "| server | server CPU µs/request | throughput of bare (CPU) | req/s | of bare (req/s) "
        "| p50 ms | non-2xx |\n|---|---|---|---|---|---|---|"
    )
    intro = TEXT.format(
        rules=TENANTS * RULES_PER_TENANT, tenants=TENANTS, per=RULES_PER_TENANT, label=label,
        eval_100=eval_100, eval_1000=eval_1000, duration=duration, rounds=len(rounds),
    )  # fmt: skip
    rows = [
        _row("bare FastAPI route", results["bare"]),
        _row("check, cached", results["cached"]),
        _row("check, uncached", results["uncached"]),
        _row("check-batch of 10, uncached", results["batch"]),
    ]
    batch = (
        f"One check-batch of 10 costs {batch_ms:.2f} ms of server CPU against "
        f"{single_ms:.2f} ms for one uncached check: {batch_ms / single_ms:.1f} single "
        "checks' worth (goal: under 3)."
    )
    analysis = ANALYSIS.format(
        load_start=load_start, load_end=os.getloadavg()[0], cores=os.cpu_count()
    )
    slo_rows = [
        f"Latency at a working rate (open loop, {SLO_RATE:,.0f} req/s, latency from the scheduled",
        "send, bench/load.py; the seed's SLO is p95 < 25 ms). The generator is Python on the",
        "same 2 cores as both servers and the neighbours' work: these rows mean something only",
        "when the load average is well under the core count (see the end of this section).",
        "",
        "| server | target req/s | achieved req/s | p50 ms | p95 ms | p99 ms | 200s | errors |",
        "|---|---|---|---|---|---|---|---|",
        *(_slo_row(name, result) for name, result in slo.items()),
    ]
    return "\n".join([intro, header, *rows, "", batch, "", *slo_rows, "", analysis])


if __name__ == "__main__":
    print(asyncio.run(run(quick=True)))
