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
from dataclasses import dataclass
from pathlib import Path

from access_common.testing import LocalServer, free_port, nats_server

__all__ = [
    "FULL_STACK",
    "WEBHOOK_SECRET",
    "RunningStack",
    "ServiceProcess",
    "running",
    "running_stack",
    "running_together",
]

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


# The secret the gateway checks signed webhooks with in these stacks (local only).
WEBHOOK_SECRET = "observability-test-webhook-secret-0123456789"
FULL_STACK = ("auth", "entitlements", "metrics", "gateway", "streaming")


@dataclass
class RunningStack:
    """The processes of :func:`running_stack`: each service and ``projection``, and NATS."""

    services: dict[str, ServiceProcess]
    nats: LocalServer


@contextlib.contextmanager
def running_stack(logs: Path, env: dict[str, str] | None = None) -> Iterator[RunningStack]:
    """The five services, the dev projection (the gateway's upstream) and a throwaway NATS.

    Wired as ``make run`` wires them, on free ports: webhooks accepted by the gateway
    reach streaming's subscribers over NATS, REST reads go through auth and entitlements
    to the projection. ``env`` is added to every process's environment.
    """
    with contextlib.ExitStack() as stop:
        nats = nats_server(logs / "nats")
        nats.start()
        stop.callback(nats.close)
        # The projection reads ACCESS_DEV_PROJECTION_* (so it never takes a service's port).
        projection_env = {
            key.replace("ACCESS_", "ACCESS_DEV_PROJECTION_", 1): value
            for key, value in (env or {}).items()
        }
        projection = ServiceProcess("gateway.dev_projection", projection_env, logs)
        projection.env["ACCESS_DEV_PROJECTION_PORT"] = str(projection.port)
        auth_port = free_port()
        shared = {
            **(env or {}),
            "ACCESS_NATS_URL": f"nats://127.0.0.1:{nats.port}",
            "ACCESS_PROJECTION_SERVICE_URL": projection.url,
            "ACCESS_API_KEY_HMAC_SECRET": WEBHOOK_SECRET,
            "ACCESS_ENTITLEMENTS_POLICY_FILE": str(
                REPO / "service-entitlements" / "policy" / "local.yaml"
            ),
            "ACCESS_DEV_ISSUER_URL": f"http://127.0.0.1:{auth_port}/auth/dev",
        }
        services = {name: ServiceProcess(name, {**shared, "ACCESS_STATE_DIR": str(logs / name)},
                                         logs) for name in FULL_STACK}  # fmt: skip
        services["auth"].port = auth_port
        services["auth"].url = f"http://127.0.0.1:{auth_port}"
        services["auth"].env["ACCESS_PORT"] = str(auth_port)
        urls = {
            "ACCESS_AUTH_SERVICE_URL": services["auth"].url,
            "ACCESS_ENTITLEMENTS_SERVICE_URL": services["entitlements"].url,
            "ACCESS_METRICS_SERVICE_URL": services["metrics"].url,
        }
        for service in services.values():
            service.env.update(urls)
        everything = {**services, "projection": projection}
        for service in everything.values():
            service.launch()
            stop.callback(service.stop)
        for service in everything.values():
            service.wait()
        yield RunningStack(everything, nats)
