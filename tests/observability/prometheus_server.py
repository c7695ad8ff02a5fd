"""A real Prometheus (Debian's) on a free loopback port, scraping the services a test started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

from access_common.testing import free_port

from .prom import binary

__all__ = ["ALERT_RULES", "Prometheus", "prometheus"]

ALERT_RULES = Path(__file__).resolve().parents[2] / "observability" / "alerts"


class Prometheus:
    """The HTTP API of the Prometheus a test started."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector (raises on a query error)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def rule_groups(self) -> list[dict[str, Any]]:
        """Loaded rule groups with each rule's health."""
        groups: list[dict[str, Any]] = httpx.get(f"{self.url}/api/v1/rules", timeout=10).json()[
            "data"
        ]["groups"]
        return groups

    def targets(self) -> list[dict[str, Any]]:
        """Active scrape targets."""
        targets: list[dict[str, Any]] = httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()[
            "data"
        ]["activeTargets"]
        return targets


@contextlib.contextmanager
def prometheus(jobs: Mapping[str, str], workdir: Path) -> Iterator[Prometheus]:
    """Prometheus scraping ``{job: "host:port"}`` every second, with the alert rules loaded."""
    port = free_port()
    rule_files = [str(p) for p in sorted(ALERT_RULES.rglob("*.yaml")) if "tests" not in p.parts]
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": rule_files,
        "scrape_configs": [
            {"job_name": job, "honor_labels": job == "metrics",
             "static_configs": [{"targets": [target]}]}
            for job, target in jobs.items()
        ],
    }  # fmt: skip
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    argv = [
        binary("prometheus"),
        f"--config.file={path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with (workdir / "prometheus.log").open("ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start; see {workdir / 'prometheus.log'}")
            time.sleep(0.1)
        yield Prometheus(url)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
