"""Drive a server with wrk pinned to one core; report its rate and who was busy.

wrk comes from Debian (``bench/tools.sh`` installs it when missing). Each run also
reads how much CPU the server process and wrk itself used, so the table can show
that the server's core was saturated and the load tool's was not: the proof that
the number measures the server, not wrk.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WrkResult", "ensure_wrk", "post_script", "process_cpu_seconds", "run_wrk"]

TOOLS = Path(__file__).resolve().parent / "tools.sh"
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run: completed requests per second and the CPU share of each side."""

    rps: float
    requests: int
    non_2xx: int
    errors: int
    server_cpu: float
    wrk_cpu: float


def ensure_wrk() -> None:
    """Install wrk through the bench's own script when it is not on PATH."""
    subprocess.run(["bash", str(TOOLS)], check=True)


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            pids += _tree(int(child))
    return pids


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used by a process, its threads and its children.

    Children count because some servers (granian) serve from a worker process.
    """
    total = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone between the listing and the read
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def post_script(directory: Path, name: str, tokens: list[str] | None = None) -> Path:
    """A wrk Lua script sending ``POST`` with an empty body; cycle bearer tokens if given.

    With a token pool each request takes the next token in order (wrk runs one Lua
    state per thread, and the bench uses one thread), so a pool larger than the
    service's recently-verified map never hits it.
    """
    script = directory / f"{name}.lua"
    lines = ['wrk.method = "POST"', 'wrk.body = ""']
    if tokens:
        pool = directory / f"{name}.tokens"
        pool.write_text("\n".join(tokens) + "\n")
        lines += [
            "local tokens = {}",
            f'for line in io.lines("{pool}") do tokens[#tokens + 1] = "Bearer " .. line end',
            "local i = 0",
            "request = function()",
            "  i = i % #tokens + 1",
            '  wrk.headers["Authorization"] = tokens[i]',
            "  return wrk.format()",
            "end",
        ]
    script.write_text("\n".join(lines) + "\n")
    return script


def _parse(output: str) -> tuple[float, int, int, int]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)  # fmt: skip
    if rps is None or total is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    socket_errors = sum(int(g) for g in errors.groups()) if errors else 0
    return (
        float(rps.group(1)),
        int(total.group(1)),
        int(non_2xx.group(1)) if non_2xx else 0,
        (socket_errors),
    )


def run_wrk(
    url: str,
    *,
    server_pid: int,
    seconds: float,
    cpu: int = 1,
    connections: int = 32,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Run ``wrk -t1 -c<connections>`` on core ``cpu`` against ``url`` for ``seconds``."""
    argv = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    server_before = process_cpu_seconds(server_pid)
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    server_cpu = (process_cpu_seconds(server_pid) - server_before) / wall
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{output}")
    rps, total, non_2xx, errors = _parse(output)
    wrk_cpu = (usage.ru_utime + usage.ru_stime) / wall
    return WrkResult(rps, total, non_2xx, errors, server_cpu, wrk_cpu)
