"""The five services (and a NATS JetStream) as real processes on free ports.

What `make run` starts, but on ports nobody else uses, so tests can run next to a
developer's `make run` and the lead's fixed ports (8000-8012, 4222) stay untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from access_common.testing import LocalServer, free_port, nats_server

from .k8s import REPO

__all__ = ["SERVICES", "LocalStack"]

SERVICES = ("auth", "entitlements", "metrics", "streaming", "gateway")


@dataclass
class LocalStack:
    """Start with :meth:`start`, stop with :meth:`stop`; ``urls`` maps service -> base URL."""

    workdir: Path
    ports: dict[str, int] = field(default_factory=lambda: {s: free_port() for s in SERVICES})
    projection_port: int = field(default_factory=free_port)
    nats: LocalServer | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        """Base URL of each service."""
        return {s: f"http://127.0.0.1:{p}" for s, p in self.ports.items()}

    def env(self) -> dict[str, str]:
        """The environment every service (and a CLI pointed at the stack) gets."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESS_")}
        env.update(
            ACCESS_ENV="local",
            ACCESS_STATE_DIR=str(self.workdir / "state"),
            ACCESS_AUTH_SERVICE_URL=self.urls["auth"],
            ACCESS_ENTITLEMENTS_SERVICE_URL=self.urls["entitlements"],
            ACCESS_METRICS_SERVICE_URL=self.urls["metrics"],
            # The gateway's upstream: the development projection `make run` starts too.
            ACCESS_PROJECTION_SERVICE_URL=f"http://127.0.0.1:{self.projection_port}",
            ACCESS_DEV_PROJECTION_PORT=str(self.projection_port),
            # The dev issuer's `iss` names auth's port; on a free port, every minter (the
            # service and `python -m access_auth.dev`) must agree on it.
            ACCESS_DEV_ISSUER_URL=f"{self.urls['auth']}/auth/dev",
            PYTHONUNBUFFERED="1",
        )
        if self.nats is not None:
            env["ACCESS_NATS_URL"] = f"nats://127.0.0.1:{self.nats.port}"
        return env

    def start(self, timeout: float = 90.0) -> None:
        """Start NATS and the five services; return once every /health says ok."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.nats = nats_server(self.workdir / "nats")
        self.nats.start()
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        modules = {s: f"access_{s}" for s in SERVICES}
        modules["projection"] = "access_gateway.dev_projection"
        for service, module in modules.items():
            env = self.env()
            env["ACCESS_PORT"] = str(self.ports.get(service, self.projection_port))
            with (logs / f"{service}.log").open("wb") as log:
                self.procs[service] = subprocess.Popen(
                    [sys.executable, "-m", module],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        deadline = time.monotonic() + timeout
        pending = set(SERVICES)
        with httpx.Client(timeout=2) as client:
            while pending:
                for service in sorted(pending):
                    if self.procs[service].poll() is not None:
                        self.stop()
                        raise RuntimeError(f"{service} exited: {self.log(service)}")
                    try:
                        status = client.get(f"{self.urls[service]}/health").json()["status"]
                    except (httpx.HTTPError, ValueError, KeyError):
                        continue
                    if status == "ok":
                        pending.discard(service)
                if pending and time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"not healthy after {timeout:.0f}s: {sorted(pending)}")
                time.sleep(0.2)

    def log(self, service: str) -> str:
        """The tail of a service's log."""
        path = self.workdir / "logs" / f"{service}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def token(self, sub: str = "smoke", tenant: str = "tenant-smoke", roles: str = "trader") -> str:
        """A dev token from the auth service's issuer (ACCESS_ENV=local)."""
        out = subprocess.run(
            [sys.executable, "-m", "access_auth.dev", "--sub", sub, "--tenant", tenant,
             "--roles", roles],
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )  # fmt: skip
        return out.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        """SIGTERM the services (graceful), then stop NATS."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        if self.nats is not None:
            self.nats.close()
            self.nats = None
