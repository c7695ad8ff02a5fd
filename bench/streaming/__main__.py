"""`make bench-streaming`: fan-out of the plain baseline, the blaster and the streaming service.

    python -m bench.streaming [--quick] [--yardstick | --yardstick-only] [--bus memory|nats]

Servers run on core 0, the load tool (the yardstick's Go loadgen) on core 1. The results
replace the streaming blocks of docs/benchmarks.md; the rest of the file is left alone.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import describe
from bench.streaming.docs import write_block
from bench.streaming.loadgen import YARDSTICK, LoadTool
from bench.streaming.processes import REPO, Unavailable, raise_fd_limit
from bench.streaming.report import render
from bench.streaming.scenarios import FULL, QUICK, SCENARIOS, Outcome, Plan, run_scenario
from bench.streaming.targets import (
    Peers,
    Target,
    baseline,
    blaster,
    probe_streaming,
    streaming,
    streaming_missing,
    streaming_peers,
)
from bench.streaming.yardstick import BENCH_NAMES, run_yardstick
from bench.streaming.yardstick import SCENARIOS as YARD_SCENARIOS
from bench.streaming.yardstick import render as render_yardstick

OUTPUT = REPO / "docs" / "benchmarks.md"
SERVERS = ("baseline", "blaster", "streaming")
BLOCK, YARD_BLOCK = "bench-streaming", "bench-streaming-yardstick"
TITLE = "## Streaming fan-out"
INTRO = """`make bench-streaming` (code in `bench/streaming/`). `QUICK=1` holds each rate 3 s
(about 8-10 minutes for the three servers on a quiet machine); the full mode holds each
rate 12 s (about 25 minutes; a server that saturates early ends its ladder early);
`YARDSTICK=1` then runs the yardstick too (about 15 minutes more). Each server is started
afresh for every scenario, pinned to core 0 (`taskset`); the load tool runs in its own
process on core 1.

- **Load tool**: the yardstick's Go `loadgen` (`../shared/yardstick/loadgen`, built into
  `.local/bench-streaming/` by the bench), reused rather than rewritten: one instrument
  for this table and the yardstick's (same ~200-byte tick carrying `seq` and `ts_ns`, same
  latency histogram, loss and gap counting, same /proc readings of the server's RSS and
  CPU), and it is already shown to reach ~300,000 deliveries/s on one core. Without the
  yardstick folder the bench stops with that reason.
- **Plain baseline**: the yardstick's Starlette + uvicorn server (uvloop, httptools,
  websockets), seed 003 shapes, each message encoded once and awaited per subscriber,
  kept in `bench/streaming/baseline.py`. It is the ratio's denominator.
- **Blaster** (`bench/streaming/blaster.py`): raw asyncio, each message one pre-built
  frame, the frames of one publish joined once per topic and handed to every subscriber in
  one write - the least a Python server can do per delivery. Where the load tool's own
  core is saturated against it, that rate is the tool's ceiling; every other server's
  numbers below it are the server's.
- **Streaming service**: `python -m access_streaming` with `ACCESS_ENV=local`, fed through
  its local-only `POST /dev/publish` (bus -> fan-out -> sockets; the in-process bus unless
  `--bus nats`), a registry of the tool's 500 topics (`md.ch0`...), seed 003's per-user,
  per-tenant and per-IP connection limits lifted (one tool, one token, one address), the
  real auth service (dev issuer) and an allow-all entitlements stand-in on core 1. When the
  service cannot be measured (no publish endpoint yet, does not start, refuses the
  WebSocket) its rows say `not available (reason)` and the rest is measured.
- **Rates** climb a few per load-tool run (one connect per group) until a step falls
  behind and the next ones deliver no more (at most 3-4 steps past the first fall).
- **GC pauses**: `bench/streaming/gchook/sitecustomize.py` is put on `PYTHONPATH` of every
  Python server the bench starts (streaming service included: nothing to wire in the
  service); it times each collection with `gc.callbacks` from the moment the server is up
  (SIGUSR2) until its load ends (SIGUSR1) and writes counts, total, maximum and pauses over
  1/5/10/20/50/100 ms to `.local/bench-streaming/<server>-<scenario>.gc.json`.
  For diagnosis, `BENCH_GC_TRACE=<file>` appends one JSON line per collection (pid,
  generation, wall/CPU ms, objects walked, collected); it lists the objects before each
  collection, so it is never set for a reported run."""


def _load() -> str:
    try:
        return "load average " + " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average unknown"


@contextlib.contextmanager
def _streaming_target(bus: str) -> Iterator[tuple[Target | None, str]]:
    """The streaming target with its peers running, or None and the reason."""
    missing = streaming_missing()
    if missing:
        yield None, missing
        return
    with contextlib.ExitStack() as stack:
        try:
            peers = stack.enter_context(streaming_peers(bus))
        except Unavailable as exc:
            yield None, str(exc)
            return
        reason = _check(peers)
        yield (None, reason) if reason else (streaming(peers), "")


def _check(peers: Peers) -> str:
    try:
        with streaming(peers).start("probe") as process:
            return probe_streaming(process, peers) or ""
    except Unavailable as exc:
        return str(exc)


def _harness(plan: Plan, scenarios: list[str], servers: list[str], target: Target | None,
             reason: str, bus: str, note: str) -> str:  # fmt: skip
    tool = LoadTool.build()
    load_before = _load()
    outcomes: list[Outcome] = []
    targets = [
        t for name, t in (("baseline", baseline()), ("blaster", blaster())) if name in servers
    ]
    if target is not None and "streaming" in servers:
        targets.append(target)
    for scenario in scenarios:
        for t in targets:
            print(f"{scenario}: {t.name} ...", file=sys.stderr)
            outcomes.append(run_scenario(tool, t, scenario, plan))
        if target is None and "streaming" in servers:
            outcomes.append(Outcome("streaming service", scenario, error=reason))
    load = f"{load_before} before, {_load()} after (the other core's users share the machine)"
    body = render(outcomes, plan, bus=bus, load=load)
    return "\n\n".join([TITLE, INTRO, describe(), *([note] if note else []), body])


def main() -> int:
    """Run the benchmark and write its blocks of docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short steps (a few minutes)")
    parser.add_argument("--yardstick", action="store_true", help="also run the yardstick")
    parser.add_argument("--yardstick-only", action="store_true", help="only the yardstick")
    parser.add_argument("--yardstick-dir", type=Path, default=YARDSTICK)
    parser.add_argument("--bus", choices=["memory", "nats"], default="memory",
                        help="the streaming service's bus (nats: ACCESS_NATS_URL)")  # fmt: skip
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="some of " + ",".join(SCENARIOS) + " (the yardstick too)")  # fmt: skip
    parser.add_argument("--ramp", type=int, default=None, help="connections opened per second")
    parser.add_argument("--idle-ramp", type=int, default=None, help="the same, for idle")
    parser.add_argument("--servers", default=",".join(SERVERS), help="some of " + ",".join(SERVERS))
    parser.add_argument("--note", default="", help="a sentence for the report (e.g. what ran)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    servers = [s for s in args.servers.split(",") if s]
    if unknown := set(scenarios) - set(SCENARIOS) | set(servers) - set(SERVERS):
        parser.error(f"unknown scenario(s) or server(s): {', '.join(sorted(unknown))}")
    raise_fd_limit()
    plan = QUICK if args.quick else FULL
    if args.ramp:
        plan = dataclasses.replace(plan, ramp=args.ramp)
    if args.idle_ramp:
        plan = dataclasses.replace(plan, idle_ramp=args.idle_ramp)
    started = time.monotonic()
    with _streaming_target(args.bus) as (target, reason):
        if reason:
            print(f"streaming service: not available ({reason})", file=sys.stderr)
        try:
            if not args.yardstick_only:
                section = _harness(plan, scenarios, servers, target, reason, args.bus, args.note)
                write_block(args.output, BLOCK, section)
            if args.yardstick or args.yardstick_only:
                wanted = {BENCH_NAMES[s] for s in scenarios}
                yard = tuple(s for s in YARD_SCENARIOS if s in wanted)  # the yardstick's order
                results = run_yardstick(
                    args.yardstick_dir, target, reason, quick=args.quick, scenarios=yard
                )
                when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
                note = ("Quick mode (fanout1 at 50 and 200 msgs/s only)." if args.quick
                        else f"Full scenarios; {_load()} at the end: {os.cpu_count()} cores "
                        "shared with other work while it ran.")  # fmt: skip
                note = f"{note} {args.note}".strip()
                body = "### The yardstick (`../shared/yardstick/run.sh`)\n\n" + render_yardstick(
                    results, when=when, note=note
                )
                write_block(args.output, YARD_BLOCK, body, after=BLOCK)
        except Unavailable as exc:
            print(f"bench-streaming: {exc}", file=sys.stderr)
            return 1
    print(f"wrote {args.output} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
