"""Start services of the access layer as real processes on free loopback ports (tests only)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from access_common.testing import free_port

__all__ = ["ServiceProcess", "running", "running_together"]

REPO = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """One service (``python -m access_<name>``) with its own environment, stoppable."""

    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = logs
        base = {k: v for k, v in os.environ.items() if not k.startswith("ACCESS_")}
        self.env = {
            **base,
            "ACCESS_ENV": "local",
            "ACCESS_PORT": str(self.port),
            "ACCESS_LOG_LEVEL": "warning",
            **env,
        }
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start it and wait until /health/live answers."""
        self.launch()
        self.wait(timeout)

    def launch(self) -> None:
        """Start the process without waiting (start several, then wait for each)."""
        with (self.logs / f"{self.name}-{self.port}.log").open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", f"access_{self.name}"],
                cwd=REPO, env=self.env, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip

    def wait(self, timeout: float = 30.0) -> None:
        """Wait until /health/live answers; stop and raise if it does not in time."""
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health/live", timeout=1):  # noqa: S310
                    return
            except (urllib.error.URLError, OSError):
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{self.name} did not start; see {self.logs}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 10 s)."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(5)
        self._proc = None


@contextlib.contextmanager
def running(name: str, logs: Path, **env: str) -> Iterator[ServiceProcess]:
    """A started service, stopped when the block ends."""
    service = ServiceProcess(name, env, logs)
    service.start()
    try:
        yield service
    finally:
        service.stop()


@contextlib.contextmanager
def running_together(
    logs: Path, env: dict[str, str], *names: str
) -> Iterator[tuple[ServiceProcess, ...]]:
    """Several services with the same environment, started in parallel."""
    services = tuple(ServiceProcess(name, env, logs) for name in names)
    with contextlib.ExitStack() as stop:
        for service in services:
            service.launch()
            stop.callback(service.stop)
        for service in services:
            service.wait()
        yield services
