"""Start a server process for a benchmark and wait until it answers."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from access_common.testing import free_port

__all__ = ["new_port", "server_process", "serving", "uvicorn_argv"]

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def server_process(
    argv: list[str],
    env: dict[str, str],
    port: int,
    probe: str,
    *,
    cpu: int | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` (pinned to core ``cpu`` if given) until the block ends; yield the process.

    The process's stdout and stderr go to ``log`` when given (the access log has to be
    written somewhere real to cost what it costs), else nowhere.
    """
    full_env = {**os.environ, **env}
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]  # taskset execs: the pid is the server's
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(log.open("ab")) if log is not None else subprocess.DEVNULL
        proc = subprocess.Popen(argv, cwd=REPO, env=full_env, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=1):
                        break
                except (urllib.error.URLError, OSError):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"{argv} did not start") from None
                    time.sleep(0.2)
            yield proc
        finally:
            proc.terminate()
            proc.wait(15)


@contextlib.contextmanager
def serving(argv: list[str], env: dict[str, str], port: int, probe: str) -> Iterator[int]:
    """Run ``argv`` until the block ends; yield the port once ``probe`` answers."""
    with server_process(argv, env, port, probe):
        yield port


def uvicorn_argv(app: str, port: int) -> list[str]:
    """Uvicorn on one worker with the same loop and parser the services use."""
    return [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--no-access-log",
            "--log-level", "warning"]  # fmt: skip


def new_port() -> int:
    """A free port for one server."""
    return free_port()
