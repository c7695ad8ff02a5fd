"""A real Prometheus scrapes the five services of a running stack; every panel shows data.

Drives traffic through auth (dev tokens verified and refused), entitlements, gateway,
streaming and the metrics service (pushed samples, one refused), then asks Prometheus's
HTTP API each dashboard panel's query and the state of the loaded alert rules.
Set ACCESS_TEST_OBSERVABILITY_PICTURES=<dir> (and ACCESS_TEST_OBSERVABILITY_DEMO_SECONDS) to also
render every dashboard with matplotlib from the same run (docs/observability.md).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from access_metrics.testing import sample

from .prometheus_server import Prometheus, prometheus
from .stack import ServiceProcess

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "observability" / "dashboards"
SERVICES = ("auth", "entitlements", "metrics", "gateway", "streaming")

# Panels that cannot have data in a local run of this branch, and why.
NO_LOCAL_DATA = {
    # The dev issuer signs locally: no JWKS is fetched, so no refresh is counted.
    ("auth.json", "JWKS refreshes by result (last hour)"),
    # The pushers of gateway and streaming are not wired yet (docs/observability.md).
    ("metrics.json", "Pushers: samples sent and dropped per second"),
}
# Dashboards and panels whose traffic this test does not drive yet (webhook posts, live
# WebSocket subscribers, cache hits and warms through the gateway): their queries are
# checked against the exported names by test_alerts_and_dashboards.py, not for data here.
NOT_DRIVEN_FILES = {"gateway_webhooks.json", "streaming.json"}
NOT_DRIVEN = {
    ("gateway_overview.json", "Cache hit ratio (hits and stale serves over lookups)"),
    ("gateway_served_cache.json", "Cache warm: queries per result (last hour)"),
    ("gateway_served_cache.json", "Projection age of served answers p50 / p95 / p99"),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("stack")
    services: dict[str, ServiceProcess] = {}
    for name in SERVICES:
        env = {"ACCESS_STATE_DIR": str(logs / name)}
        if name in ("gateway", "streaming"):
            env["ACCESS_AUTH_SERVICE_URL"] = services["auth"].url
            env["ACCESS_ENTITLEMENTS_SERVICE_URL"] = services["entitlements"].url
            env["ACCESS_METRICS_SERVICE_URL"] = services["metrics"].url
        services[name] = ServiceProcess(name, env, logs)
    with ExitStack() as stop:
        for service in services.values():
            service.launch()
            stop.callback(service.stop)
        for service in services.values():
            service.wait()
        yield services


def drive_traffic(services: dict[str, ServiceProcess], seconds: float) -> None:
    """Requests of every kind the branch serves, spread over ``seconds``."""
    with httpx.Client(timeout=5) as client:
        auth = services["auth"].url
        token = client.post(
            f"{auth}/auth/dev/token",
            json={"sub": "alice", "tenant_id": "tenant-a", "roles": ["trader"]},
        ).json()["access_token"]
        deadline = time.monotonic() + seconds
        rng = random.Random(7)
        while time.monotonic() < deadline:
            bearer = token if rng.random() < 0.9 else "not-a-token"
            client.post(f"{auth}/auth/verify", headers={"authorization": f"Bearer {bearer}"})
            for name in SERVICES:
                client.get(f"{services[name].url}/openapi.json")
            client.get(f"{services['entitlements'].url}/no/such/route")
            batch = [
                sample(labels={"route": rng.choice(["/a", "/b", "/c"])}, value=rng.randint(1, 5)),
                sample("streaming_lag_seconds", type="histogram", labels={"topic": "t"},
                       value=rng.expovariate(20)),
                sample("gateway_queue_depth", type="gauge", labels={}, value=rng.randint(0, 9)),
            ]  # fmt: skip
            client.post(f"{services['metrics'].url}/metrics/track", json={"samples": batch})
            if rng.random() < 0.1:
                client.post(f"{services['metrics'].url}/metrics/track", json=sample(value=-1))
            time.sleep(0.05)


def panels() -> list[tuple[str, str, list[str]]]:
    return [
        (path.name, panel["title"], [t["expr"] for t in panel["targets"]])
        for path in sorted(DASHBOARDS.glob("*.json"))
        for panel in json.loads(path.read_text())["panels"]
    ]


@pytest.mark.timeout(900)  # a demo run for the docs' pictures may drive traffic for minutes
def test_prometheus_scrapes_every_service_loads_the_rules_and_panels_show_data(
    stack: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    jobs = {name: f"127.0.0.1:{service.port}" for name, service in stack.items()}
    with prometheus(jobs, tmp_path) as prom:
        started = time.monotonic()
        drive_traffic(stack, float(os.environ.get("ACCESS_TEST_OBSERVABILITY_DEMO_SECONDS", "4")))
        wait_for(lambda: len(prom.query("up == 1")) == len(SERVICES), "every target up")

        groups = prom.rule_groups()
        assert len(groups) == 8
        assert sum(len(g["rules"]) for g in groups) >= 30
        wait_for(
            lambda: all(r["health"] == "ok" for g in prom.rule_groups() for r in g["rules"]),
            "every rule evaluated without error",
        )

        checked, empty = check_panels(prom)
        assert not empty, f"panels without data: {empty}"
        assert checked >= 20

        pictures = os.environ.get("ACCESS_TEST_OBSERVABILITY_PICTURES")
        if pictures:
            subprocess.run(
                [sys.executable, "-m", "scripts.observability.pictures", prom.url, pictures,
                 str(time.monotonic() - started)],
                cwd=REPO, check=True,
            )  # fmt: skip


def check_panels(prom: Prometheus) -> tuple[int, list[tuple[str, str]]]:
    """Count panels that answer with data; list those that should and do not."""
    checked = 0
    empty: list[tuple[str, str]] = []
    for file, title, queries in panels():
        if (file, title) in NO_LOCAL_DATA | NOT_DRIVEN or file in NOT_DRIVEN_FILES:
            continue
        deadline = time.monotonic() + 10
        while not all(prom.query(q) for q in queries):
            if time.monotonic() > deadline:
                empty.append((file, title))
                break
            time.sleep(0.5)
        else:
            checked += 1
    return checked, empty


def wait_for(condition: object, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    assert callable(condition)
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)
