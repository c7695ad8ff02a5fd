"""Run the yardstick itself (``../shared/yardstick/run.sh``) and tabulate what it measured.

``run.sh build``, then for each scenario the engine peer, the plain baseline and — when it is
available — the streaming service (``run.sh seed003``, started here pinned to core 0), in
one sitting so the three columns share the machine's mood. ``run.sh`` appends each run's
JSON summary to ``JSONL``; those lines are the table's source. Its servers bind the fixed
ports 8101 and 8102: when either is taken (someone else is running the yardstick) that
column says so rather than measuring a stranger's server.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.streaming.processes import REPO, Unavailable
from bench.streaming.report import gc_text
from bench.streaming.results import GcStats, Ladder, Run, Step, parse_summary, ratio
from bench.streaming.targets import PUBLISH_PATH, TOPIC_PREFIX, Target

__all__ = ["BENCH_NAMES", "SCENARIOS", "YardRun", "render", "run_yardstick"]

SCENARIOS = ("fanout1", "many", "idle10k")
# The bench's scenario names (--scenarios) as the yardstick calls them.
BENCH_NAMES = {"idle": "idle10k", "fanout1": "fanout1", "many": "many"}
SERVERS = {"engine": ("engine peer", 8101), "plain": ("plain baseline", 8102)}
STREAMING = "streaming service"


@dataclass(slots=True)
class YardRun:
    """One ``run.sh`` invocation's result (or why there is none)."""

    server: str
    scenario: str
    run: Run | None = None
    error: str = ""
    gc: GcStats | None = None  # the streaming service's collections while the load ran


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _invoke(args: list[str], env: dict[str, str], jsonl: Path) -> Run:
    before = jsonl.read_bytes().count(b"\n") if jsonl.exists() else 0
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False, timeout=900)
    lines = jsonl.read_bytes().splitlines()[before:] if jsonl.exists() else []
    if not lines:
        tail = done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["?"]
        raise Unavailable(f"run.sh {' '.join(args[1:3])} wrote no summary: {tail[-1][:160]}")
    return parse_summary(orjson.loads(lines[-1]))


def run_yardstick(
    yardstick: Path,
    streaming: Target | None,
    streaming_reason: str,
    *,
    quick: bool,
    scenarios: tuple[str, ...] = SCENARIOS,
) -> list[YardRun]:
    """Build, then run each scenario against each server; ``quick`` runs fewer fanout1 rates."""
    script = str(yardstick / "run.sh")
    jsonl = REPO / ".local" / "yardstick" / "runs.jsonl"
    jsonl.parent.mkdir(parents=True, exist_ok=True)
    jsonl.unlink(missing_ok=True)
    env = {**os.environ, "YARD_DIR": str(jsonl.parent), "JSONL": str(jsonl)}
    if quick:
        env["RATES"] = "50,200"
    built = subprocess.run([script, "build"], env=env, capture_output=True, text=True,
                           check=False, timeout=900)  # fmt: skip
    if built.returncode != 0:
        reason = f"run.sh build failed: {built.stderr.strip()[-200:]}"
        return [YardRun(s, sc, error=reason) for sc in scenarios for s in (*SERVERS, "seed003")]
    results: list[YardRun] = []
    for scenario in scenarios:
        for server, (_, port) in SERVERS.items():
            invoke = functools.partial(_invoke, [script, server, scenario], env, jsonl)
            results.append(_one(server, scenario, port, invoke))
        if streaming is None:
            results.append(YardRun("seed003", scenario, error=streaming_reason))
            continue
        results.append(_streaming(script, scenario, streaming, env, jsonl))
    return results


def _one(server: str, scenario: str, port: int, invoke: Callable[[], Run]) -> YardRun:
    print(f"yardstick: {server} {scenario} ...", file=sys.stderr)
    if _port_taken(port):
        return YardRun(server, scenario, error=f"port {port} taken (another yardstick run?)")
    try:
        return YardRun(server, scenario, run=invoke())
    except (Unavailable, subprocess.TimeoutExpired) as exc:
        return YardRun(server, scenario, error=str(exc))


def _streaming(
    script: str, scenario: str, target: Target, env: dict[str, str], jsonl: Path
) -> YardRun:
    print(f"yardstick: seed003 (streaming) {scenario} ...", file=sys.stderr)
    try:
        with target.start(f"yard-{scenario}") as process:
            sub = target.subscribe(process)
            if sub.prefix != TOPIC_PREFIX:
                raise Unavailable(
                    "run.sh uses the md.ch topics: run the yardstick with --bus memory"
                )
            args = [script, "seed003", scenario, sub.ws_url,
                    f"{process.base_url}{PUBLISH_PATH}", str(process.pid)]  # fmt: skip
            # The GC hook's file then holds the run's collections, not start-up or shutdown.
            process.gc_start()
            run = _invoke(args, {**env, "TOKEN": sub.token}, jsonl)
            process.gc_stop()
        # The hook's file is read when the server has stopped (end of the block).
        return YardRun("seed003", scenario, run=run, gc=process.gc)
    except (Unavailable, subprocess.TimeoutExpired) as exc:
        return YardRun("seed003", scenario, error=str(exc))


def _cell(result: YardRun | None, show: Callable[[Run], str]) -> str:
    if result is None:
        return "-"
    if result.run is None:
        return f"not available ({result.error})"
    return show(result.run)


def _keep(run: Run) -> str:
    step = _ladder(run).keep_pace
    if step is None:
        return "never"
    return f"{step.delivered_per_s:,.0f}/s (p99 {step.p99_ms:.1f} ms)"


def _peak(run: Run) -> str:
    step = _ladder(run).peak
    if step is None:
        return "-"
    return (f"{step.delivered_per_s:,.0f}/s (p99 {step.p99_ms:.0f} ms; load tool "
            f"{step.loadgen_cpu_pct:.0f}%)")  # fmt: skip


def _ladder(run: Run) -> Ladder:
    ladder = Ladder()
    ladder.add(run)
    return ladder


def _first(run: Run) -> Step | None:
    return run.steps[0] if run.steps else None


def _many(run: Run) -> str:
    step = _first(run)
    if step is None:
        return "-"
    return (f"{step.delivered_per_s:,.0f}/s delivered, p50 {step.p50_ms:.1f} / "
            f"p99 {step.p99_ms:.1f} ms")  # fmt: skip


def _memory(run: Run) -> str:
    return f"{run.kb_per_connection:.1f} KB ({run.connections:,} open)"


def render(results: list[YardRun], *, when: str, note: str) -> str:
    """The yardstick table: one column per server, one row per measure."""

    def get(server: str, scenario: str) -> YardRun | None:
        return next((r for r in results if r.server == server and r.scenario == scenario), None)

    def row(title: str, scenario: str, show: Callable[[Run], str]) -> str:
        cells = [_cell(get(s, scenario), show) for s in ("engine", "plain", "seed003")]
        return f"| {title} | {' | '.join(cells)} |"

    def lost(run: Run) -> str:
        return f"{run.lost:,} lost, {run.failed_connections:,} failed connections"

    def peak_us(run: Run) -> str:
        step = _ladder(run).peak
        return f"{step.server_us_per_delivery:.1f} µs" if step else "-"

    def vs_plain(show: Callable[[Ladder], Step | None]) -> str:
        plain, ours = get("plain", "fanout1"), get("seed003", "fanout1")
        if not plain or not ours or not plain.run or not ours.run:
            return "-"
        a, b = show(_ladder(ours.run)), show(_ladder(plain.run))
        return ratio(a.delivered_per_s if a else None, b.delivered_per_s if b else None)

    lines = [
        f"Run {when}. {note}",
        "",
        "| scenario | engine peer | plain baseline | streaming service |",
        "|---|---|---|---|",
        row("fanout1: keeps pace (p99 < 30 ms, nothing lost) up to", "fanout1", _keep),
        row("fanout1: peak deliveries/s", "fanout1", _peak),
        row("fanout1: server CPU per delivery at peak", "fanout1", peak_us),
        row("fanout1: loss", "fanout1", lost),
        row("many: at 10,000 deliveries/s", "many", _many),
        row("many: loss", "many", lost),
        row("idle10k: memory per idle connection", "idle10k", _memory),
        row("idle10k: failed connections", "idle10k", lambda r: f"{r.failed_connections:,}"),
        "",
        "GC pauses inside the streaming service while each load ran (the Go engine and the "
        "plain baseline are not hooked): "
        + "; ".join(
            f"{scenario} {gc_text(ours.gc)}"
            for scenario in SCENARIOS
            if (ours := get("seed003", scenario)) is not None and ours.run is not None
        )
        + ".",
        "",
        f"Streaming service against the plain baseline in this run: keep-pace "
        f"{vs_plain(lambda lad: lad.keep_pace)}, peak {vs_plain(lambda lad: lad.peak)} "
        "(issue 19's targets: ≥ 4x and ≥ 3.5x).",
    ]
    return "\n".join(lines)
