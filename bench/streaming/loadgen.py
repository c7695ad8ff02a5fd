"""The load tool: the yardstick's Go ``loadgen``, built into ``.local/`` and run on core 1.

Reusing it (rather than a second tool in this repo) means the numbers of `make
bench-streaming` and of the yardstick table come from one instrument: same tick, same
latency histogram, same loss and gap counting, same /proc readings of the server.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.streaming.processes import REPO, WORK, Unavailable
from bench.streaming.results import Run, parse_run

__all__ = ["YARDSTICK", "LoadTool", "Subscribe"]

YARDSTICK = REPO.parent / "shared" / "yardstick"
LOAD_CORE = 1


@dataclass(frozen=True, slots=True)
class Subscribe:
    """How the tool reaches a seed 003 server: WebSocket URL, token, publish URL, ack."""

    ws_url: str  # with {{token}} where the token goes
    publish_url: str
    token: str = "x"  # noqa: S105 - the plain servers only check that one is there
    sub_ack: str = "subscribed"
    prefix: str = "md.ch"  # topic names: <prefix>0, <prefix>1, ...

    def args(self) -> list[str]:
        """The tool's flags for this server."""
        return [
            "-proto", "seed003", "-url", self.ws_url, "-token", self.token,
            "-sub-ack", self.sub_ack, "-pub", "http", "-pub-url", self.publish_url,
            "-pub-batch-template", "[{{items}}]", "-chan-prefix", self.prefix,
        ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class LoadTool:
    """A built load tool binary."""

    binary: Path

    @classmethod
    def build(cls, yardstick: Path = YARDSTICK) -> LoadTool:
        """Build ``yardstick/loadgen`` into ``.local/bench-streaming/`` when missing or stale."""
        source = yardstick / "loadgen"
        if not (source / "main.go").is_file():
            raise Unavailable(f"no load tool: {source} is missing (the yardstick is not here)")
        if shutil.which("go") is None:
            raise Unavailable("no load tool: Go is not installed")
        binary = WORK / "loadgen"
        newest = max(p.stat().st_mtime for p in source.iterdir())
        if not binary.exists() or binary.stat().st_mtime < newest:
            WORK.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                ["go", "build", "-o", str(binary), "."],
                cwd=source, capture_output=True, text=True, check=False, timeout=300,
            )  # fmt: skip
            if done.returncode != 0:
                raise Unavailable(f"the load tool did not build: {done.stderr.strip()[:300]}")
        return cls(binary)

    def run(
        self, target: Subscribe, *, pid: int, label: str, args: list[str], max_run: float
    ) -> Run:
        """Run once on core 1 against ``target`` (its server's PID for RSS and CPU)."""
        argv = [
            "taskset", "-c", str(LOAD_CORE), str(self.binary), *target.args(), *args,
            "-pid", str(pid), "-label", label, "-max-run", f"{max_run:.0f}s",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, check=False, timeout=max_run + 60
            )
        except subprocess.TimeoutExpired:
            raise Unavailable(f"the load tool hung ({label})") from None
        try:
            return parse_run(done.stdout)
        except ValueError:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise Unavailable(f"the load tool failed ({label}): {tail[:200]}") from None
