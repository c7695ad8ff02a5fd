"""Start a server under test pinned to one core, with its GC timed, and stop it cleanly."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.streaming.results import GcStats, parse_gc

__all__ = ["REPO", "WORK", "Process", "Unavailable", "pinned", "raise_fd_limit"]

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".local" / "bench-streaming"
GCHOOK = Path(__file__).resolve().parent / "gchook"


class Unavailable(RuntimeError):
    """A server or tool could not be started; the message says why, for the report."""


@dataclass(slots=True)
class Process:
    """A running server: its port, PID (the one the load tool reads /proc of) and log."""

    name: str
    port: int
    pid: int
    log: Path
    gc_file: Path
    gc: GcStats | None = None

    def gc_start(self) -> None:
        """Tell the GC hook the server is up: start-up collections are not counted."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGUSR2)

    def gc_stop(self) -> None:
        """Tell the GC hook the load is over: shutdown collections are not counted."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGUSR1)
        time.sleep(0.2)  # the handler runs at the server's next bytecode

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"


def raise_fd_limit() -> int:
    """Lift this process's open-file limit to the hard limit (children inherit it)."""
    import resource  # noqa: PLC0415 - POSIX only, needed only here

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _last_line(log: Path) -> str:
    try:
        lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return "no output"
    return lines[-1][:200] if lines else "no output"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # it answers; the probe only waits for the socket to serve HTTP
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def pinned(
    name: str,
    argv: list[str],
    *,
    core: int,
    port: int,
    probe: str,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[Process]:
    """Run ``argv`` on ``core`` until the block ends; yield once ``probe`` answers HTTP."""
    if shutil.which("taskset") is None:
        raise Unavailable("taskset is missing (util-linux): servers cannot be pinned")
    WORK.mkdir(parents=True, exist_ok=True)
    log, gc_file = WORK / f"{name}.log", WORK / f"{name}.gc.json"
    gc_file.unlink(missing_ok=True)
    full_env = {**os.environ, **(env or {}), "BENCH_GC_STATS": str(gc_file)}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(GCHOOK), full_env.get("PYTHONPATH", "")) if p
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", str(core), *argv],
            cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    # taskset execs the command, so the PID is the server's own.
    handle = Process(name=name, port=port, pid=proc.pid, log=log, gc_file=gc_file)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(f"{handle.base_url}{probe}"):
            if proc.poll() is not None:
                raise Unavailable(f"{name} exited at start: {_last_line(log)}")
            if time.monotonic() > deadline:
                raise Unavailable(f"{name} did not answer {probe} in {timeout:.0f} s")
            time.sleep(0.2)
        yield handle
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        with contextlib.suppress(OSError, ValueError):
            handle.gc = parse_gc(gc_file.read_bytes())
