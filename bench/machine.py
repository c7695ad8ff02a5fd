"""Describe the machine a benchmark ran on, for the header of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["describe"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def describe() -> str:
    """A markdown table of CPU, cores, memory, OS, Python and date."""
    rows = [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("cpu", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("memory", _memory_gib()),
        ("os", f"{platform.system()} {platform.release()}"),
        ("python", platform.python_version()),
        # Other work on the machine takes CPU from the servers: see the shares per CPU-second.
        ("load average at start (1, 5, 15 min)", ", ".join(f"{x:.2f}" for x in os.getloadavg())),
    ]
    lines = ["| machine | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    return "\n".join(lines)
