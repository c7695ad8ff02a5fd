"""The GC hook every benchmarked server loads: its stats file, and the diagnosis trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from bench.streaming.processes import GCHOOK

_PROGRAM = "import gc\nkeep = [[i] for i in range(5000)]\ngc.collect(0)\ngc.collect()\n"


def _run(tmp_path: Path, **env: str) -> Path:
    stats = tmp_path / "gc.json"
    subprocess.run(
        [sys.executable, "-c", _PROGRAM],
        env={**os.environ, "PYTHONPATH": str(GCHOOK), "BENCH_GC_STATS": str(stats), **env},
        check=True,
        timeout=60,
    )
    return stats


def test_collections_are_counted_and_written_at_exit(tmp_path: Path) -> None:
    stats = orjson.loads(_run(tmp_path).read_bytes())
    assert stats["collections"][0] >= 1
    assert stats["collections"][2] >= 1
    assert stats["max_ms"] >= 0


def test_the_trace_has_one_line_per_collection_with_what_it_walked(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    stats = orjson.loads(_run(tmp_path, BENCH_GC_TRACE=str(trace)).read_bytes())
    lines = [orjson.loads(line) for line in trace.read_bytes().splitlines()]
    assert len(lines) == sum(stats["collections"])
    full = [line for line in lines if line["gen"] == 2]
    assert full
    assert full[-1]["walked"] >= 5000  # the kept lists, at least
    assert {"pid", "t", "ms", "cpu_ms", "collected", "count_before", "stats"} <= set(full[-1])


def test_no_trace_without_the_variable(tmp_path: Path) -> None:
    _run(tmp_path)
    assert not list(tmp_path.glob("*.jsonl"))
