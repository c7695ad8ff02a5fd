"""What one load-tool run measured, parsed from its JSON summary, and what a ladder of runs means.

The load tool (the yardstick's Go `loadgen`) prints one line ``SBS_JSON {...}`` per run; only
the fields read here are kept. A *ladder* is the runs of one scenario at rising publish
rates; from it come the keep-pace rate and the peak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "KEEP_PACE_P99_MS",
    "GcStats",
    "Ladder",
    "Run",
    "Step",
    "first_error",
    "parse_gc",
    "parse_run",
    "parse_summary",
    "ratio",
]

JSON_PREFIX = "SBS_JSON "
# "Keeps pace" as the yardstick's README defines it: p99 under 30 ms, nothing lost, and
# (the load tool's own check) at least 95% of the target deliveries/s delivered in the window.
KEEP_PACE_P99_MS = 30.0
DELIVERED_FRACTION = 0.95


def _num(obj: dict[str, Any], key: str) -> float:
    value = obj.get(key, 0)
    return float(value) if isinstance(value, int | float) else 0.0


@dataclass(frozen=True, slots=True)
class Step:
    """One publish rate held for a while: what was sent, delivered and how late."""

    rate: float
    target_per_s: float
    delivered_per_s: float
    expected: int
    received: int
    loss: int
    gaps: int
    dups: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_pct: float
    loadgen_cpu_pct: float
    server_us_per_delivery: float
    publish_skipped: int
    publish_errors: int

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Step:
        """Read one entry of the summary's ``steps``."""
        latency = obj.get("latency") or {}
        cpu = obj.get("cpu") or {}
        return cls(
            rate=_num(obj, "rate_msgs_per_s"),
            target_per_s=_num(obj, "target_deliv_per_s"),
            delivered_per_s=_num(obj, "deliv_per_s_in_window"),
            expected=int(_num(obj, "expected_deliveries")),
            received=int(_num(obj, "received")),
            loss=int(_num(obj, "loss")),
            gaps=int(_num(obj, "seq_gaps")),
            dups=int(_num(obj, "seq_dups_or_reorders")),
            p50_ms=_num(latency, "p50_ms"),
            p99_ms=_num(latency, "p99_ms"),
            max_ms=_num(latency, "max_ms"),
            server_cpu_pct=_num(cpu, "server_cpu_pct"),
            loadgen_cpu_pct=_num(cpu, "loadgen_cpu_pct"),
            server_us_per_delivery=_num(obj, "server_cpu_us_per_delivery"),
            publish_skipped=int(_num(obj, "pub_skipped_backlog")),
            publish_errors=int(_num(obj, "pub_errors")),
        )

    @property
    def lost(self) -> int:
        """Deliveries that never arrived or arrived out of sequence (gaps), not double-counted."""
        return max(self.loss, self.gaps)

    @property
    def keeps_pace(self) -> bool:
        """p99 under the limit, nothing lost, and the target rate (nearly) delivered."""
        return (
            self.received > 0
            and self.lost == 0
            and self.p99_ms < KEEP_PACE_P99_MS
            and self.delivered_per_s >= DELIVERED_FRACTION * self.target_per_s
            and self.publish_skipped == 0
            and self.publish_errors == 0
        )


@dataclass(frozen=True, slots=True)
class Run:
    """One load-tool invocation: connections, memory, and its publish steps."""

    label: str
    connections: int
    connect_errors: int
    kb_per_connection: float
    rss_idle_kb: int
    disconnects: int
    server_errors: int
    steps: tuple[Step, ...] = ()
    errors: tuple[str, ...] = ()
    aborted: str = ""

    @property
    def lost(self) -> int:
        """Deliveries lost in this run (missing or skipped in sequence)."""
        return sum(s.lost for s in self.steps)

    @property
    def failed_connections(self) -> int:
        """Connections that could not be opened, or dropped before the run ended."""
        return self.connect_errors + self.disconnects


def parse_run(stdout: str) -> Run:
    """The run summarised by the ``SBS_JSON`` line of the load tool's output."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(JSON_PREFIX):
            return parse_summary(orjson.loads(line[len(JSON_PREFIX) :]))
    raise ValueError("the load tool printed no SBS_JSON summary")


def parse_summary(obj: dict[str, Any]) -> Run:
    """A run from the load tool's JSON summary (also what ``run.sh`` appends to ``JSONL``)."""
    connect = obj.get("connect") or {}
    memory = obj.get("memory") or {}
    return Run(
        label=str(obj.get("label", "")),
        connections=int(_num(connect, "established")),
        connect_errors=int(_num(connect, "errors")),
        kb_per_connection=_num(memory, "kb_per_conn"),
        rss_idle_kb=int(_num(memory, "server_rss_idle_kb")),
        disconnects=int(_num(obj, "disconnects")),
        server_errors=int(_num(obj, "server_errors")),
        steps=tuple(Step.from_json(s) for s in obj.get("steps") or ()),
        errors=tuple(str(e) for e in obj.get("error_samples") or ()),
        aborted=str(obj.get("aborted") or ""),
    )


@dataclass(slots=True)
class Ladder:
    """The steps of one scenario at rising rates, and the rule for when to stop climbing."""

    steps: list[Step] = field(default_factory=list)
    lost: int = 0
    failed_connections: int = 0
    extra_steps: int = 3  # at most this many steps after the first one that falls behind

    def add(self, run: Run) -> None:
        """Take in one run (one or more steps) and its losses."""
        self.steps.extend(run.steps)
        self.lost += run.lost
        self.failed_connections += run.failed_connections

    def should_continue(self) -> bool:
        """Climb while keeping pace; past that, while deliveries/s still grow (by 5%)."""
        if not self.steps:
            return True
        behind = [i for i, s in enumerate(self.steps) if not s.keeps_pace]
        if not behind:
            return True
        after = len(self.steps) - 1 - behind[0]
        if after >= self.extra_steps:
            return False
        if len(self.steps) < 2:
            return True
        best_before = max(s.delivered_per_s for s in self.steps[:-1])
        return self.steps[-1].delivered_per_s > 1.05 * best_before

    @property
    def keep_pace(self) -> Step | None:
        """The highest step reached before the first one that fell behind."""
        best: Step | None = None
        for step in self.steps:
            if not step.keeps_pace:
                break
            best = step
        return best

    @property
    def peak(self) -> Step | None:
        """The step that delivered the most per second."""
        return max(self.steps, key=lambda s: s.delivered_per_s, default=None)


@dataclass(frozen=True, slots=True)
class GcStats:
    """Garbage-collector pauses timed inside a server process (bench/streaming/gchook)."""

    collections: tuple[int, int, int]
    total_ms: float
    max_ms: float
    max_generation: int
    over_20ms: int
    max_cpu_ms: float | None = None  # the same pauses in CPU time (None: an older hook)
    over_20ms_cpu: int | None = None

    @property
    def count(self) -> int:
        """Collections of every generation."""
        return sum(self.collections)


def parse_gc(raw: bytes) -> GcStats:
    """Read the JSON the GC hook writes."""
    obj = orjson.loads(raw)
    gens = [int(x) for x in obj.get("collections", (0, 0, 0))][:3]
    gens += [0] * (3 - len(gens))
    over = obj.get("over_ms") or {}
    return GcStats(
        collections=(gens[0], gens[1], gens[2]),
        total_ms=_num(obj, "total_ms"),
        max_ms=_num(obj, "max_ms"),
        max_generation=int(_num(obj, "max_generation")),
        over_20ms=int(_num(over, "20")),
        max_cpu_ms=_num(obj, "max_cpu_ms") if "max_cpu_ms" in obj else None,
        over_20ms_cpu=int(_num(obj["over_cpu_ms"], "20")) if "over_cpu_ms" in obj else None,
    )


def ratio(value: float | None, base: float | None) -> str:
    """``value / base`` as ``1.9x``, or a dash when either is missing."""
    if not value or not base:
        return "-"
    return f"{value / base:.1f}x"


def first_error(runs: Sequence[Run]) -> str:
    """The first error sample any run reported, for the notes under a table."""
    for run in runs:
        if run.aborted:
            return run.aborted
        if run.errors:
            return run.errors[0]
    return ""
