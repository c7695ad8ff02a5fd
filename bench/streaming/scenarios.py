"""The three scenarios, run against each server: idle connections, one hot topic, many topics.

Every (server, scenario) pair gets a fresh server process, so its memory and its GC pauses
belong to that scenario alone. Rates climb a few per load-tool run (connect, settle, then
for each rate: publish for one step, drain) and stop once a step falls behind and the next
ones deliver no more (:class:`~bench.streaming.results.Ladder`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from bench.streaming.loadgen import LoadTool
from bench.streaming.processes import Unavailable
from bench.streaming.results import GcStats, Ladder, Run, first_error
from bench.streaming.targets import Target

__all__ = ["FULL", "QUICK", "SCENARIOS", "Outcome", "Plan", "chunks", "run_scenario"]

SCENARIOS = ("idle", "fanout1", "many")


@dataclass(frozen=True, slots=True)
class Plan:
    """Step lengths and rate ladders of one mode."""

    name: str
    step_s: int
    settle_s: int
    drain_s: int
    idle_connections: int
    fanout_rates: tuple[float, ...]  # msgs/s on one topic; x1,000 subscribers = deliveries/s
    many_rates: tuple[float, ...]  # msgs/s over 500 topics; x10 subscribers each
    extra_steps: int
    # New connections per second, as the yardstick's `many` opens them: at 1,000/s the Python
    # servers' handshakes time out (15 s) whenever the shared core is busy.
    ramp: int = 500
    rates_per_run: int = 3  # rates held per load-tool run (one connect per group)
    # 10,000 connections at 500/s queue handshakes past the tool's 15 s timeout on a busy
    # core; opened more slowly, the memory figure is for all 10,000.
    idle_ramp: int = 250


QUICK = Plan(
    name="quick", step_s=3, settle_s=2, drain_s=3, idle_connections=10_000,
    fanout_rates=(20, 50, 100, 200, 350, 500, 700, 1000),
    many_rates=(1000, 3000, 6000, 10_000, 15_000, 20_000, 30_000),
    extra_steps=3,
)  # fmt: skip
FULL = Plan(
    name="full", step_s=12, settle_s=3, drain_s=5, idle_connections=10_000,
    fanout_rates=(10, 25, 50, 75, 100, 150, 200, 250, 300, 400, 500, 700, 1000),
    many_rates=(1000, 2000, 4000, 6000, 8000, 10_000, 15_000, 20_000, 30_000, 40_000),
    extra_steps=4,
)  # fmt: skip


@dataclass(slots=True)
class Outcome:
    """What one server did in one scenario."""

    target: str
    scenario: str
    ladder: Ladder = field(default_factory=Ladder)
    idle: Run | None = None
    gc: GcStats | None = None
    error: str = ""
    sample: str = ""  # the first error the load tool reported


def _shape(scenario: str, plan: Plan) -> tuple[int, int, int, tuple[float, ...]]:
    """Connections, topics, connect ramp per second, rates."""
    if scenario == "idle":
        return plan.idle_connections, 100, plan.idle_ramp, ()
    if scenario == "fanout1":
        return 1000, 1, plan.ramp, plan.fanout_rates
    return 5000, 500, plan.ramp, plan.many_rates


def chunks(rates: tuple[float, ...], size: int) -> list[tuple[float, ...]]:
    """The ladder in groups of ``size`` rates: one load-tool run (one connect) per group."""
    return [rates[i : i + size] for i in range(0, len(rates), size)]


def _print_steps(label: str, run: Run) -> None:
    for step in run.steps:
        print(f"  {label} {step.rate:g} msgs/s: {step.delivered_per_s:,.0f} deliveries/s, "
              f"p99 {step.p99_ms:.1f} ms, lost {step.lost}, server CPU {step.server_cpu_pct:.0f}%, "
              f"load tool {step.loadgen_cpu_pct:.0f}%", file=sys.stderr)  # fmt: skip


def run_scenario(tool: LoadTool, target: Target, scenario: str, plan: Plan) -> Outcome:
    """Start ``target`` afresh and run ``scenario`` against it."""
    n, topics, ramp, rates = _shape(scenario, plan)
    outcome = Outcome(target.name, scenario, Ladder(extra_steps=plan.extra_steps))
    common = ["-n", str(n), "-channels", str(topics), "-ramp", str(ramp)]
    connect_s = n / ramp + 15
    try:
        with target.start(scenario) as process:
            subscribe = target.subscribe(process)
            label = f"{target.name}/{scenario}"
            process.gc_start()
            if not rates:
                args = [*common, "-settle", "5s"]
                outcome.idle = tool.run(subscribe, pid=process.pid, label=label, args=args,
                                        max_run=connect_s + 30)  # fmt: skip
                outcome.ladder.failed_connections += outcome.idle.failed_connections
                outcome.sample = first_error([outcome.idle])
            for group in chunks(rates, plan.rates_per_run):
                args = [*common, "-rates", ",".join(f"{r:g}" for r in group),
                        "-step", f"{plan.step_s}s", "-drain", f"{plan.drain_s}s",
                        "-settle", f"{plan.settle_s}s"]  # fmt: skip
                budget = connect_s + plan.settle_s + len(group) * (plan.step_s + plan.drain_s) + 30
                run = tool.run(subscribe, pid=process.pid, label=label, args=args, max_run=budget)
                outcome.ladder.add(run)
                outcome.sample = outcome.sample or first_error([run])
                _print_steps(label, run)
                if not run.steps or not outcome.ladder.should_continue():
                    break
            process.gc_stop()
        outcome.gc = process.gc
    except Unavailable as exc:
        outcome.error = str(exc)
    return outcome
