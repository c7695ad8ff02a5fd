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

__all__ = ["serving"]

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def serving(argv: list[str], env: dict[str, str], port: int, probe: str) -> Iterator[int]:
    """Run ``argv`` until the block ends; yield the port once ``probe`` answers."""
    full_env = {**os.environ, **env}
    proc = subprocess.Popen(
        argv, cwd=REPO, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
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
        yield port
    finally:
        proc.terminate()
        proc.wait(15)


def uvicorn_argv(app: str, port: int) -> list[str]:
    """Uvicorn on one worker with the same loop and parser the services use."""
    return [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--no-access-log",
            "--log-level", "warning"]  # fmt: skip


def new_port() -> int:
    """A free port for one server."""
    return free_port()
