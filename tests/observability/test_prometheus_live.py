"""A real Prometheus scrapes the five services of a running stack; every panel shows data.

Drives traffic through auth (dev tokens verified and refused), entitlements, the gateway
(REST reads and cache hits, a cache warm, signed webhooks and their refusals), streaming
(a live WebSocket subscriber receiving the webhooks) and the metrics service (pushed
samples, one refused; the gateway's and streaming's pushers), then asks Prometheus's HTTP
API each dashboard panel's query and the state of the loaded alert rules.
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
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from access_metrics.testing import sample

from .drive import SIGNAL_TOPIC, dev_token, post_webhook, receive_marker, subscribed_socket
from .prometheus_server import Prometheus, prometheus
from .stack import RunningStack, running_stack

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "observability" / "dashboards"
SERVICES = ("auth", "entitlements", "metrics", "gateway", "streaming")

# Panels that cannot have data in a local run, and why.
NO_LOCAL_DATA = {
    # The dev issuer signs locally: no JWKS is fetched, so no refresh is counted.
    ("auth.json", "JWKS refreshes by result (last hour)"),
}
# Webhooks a client may send per second in this stack: low, so a burst is rate limited.
WEBHOOK_RPS = 5
REFUSALS_EVERY = 10.0  # seconds between webhook refusals and cache warms


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The five services, the dev projection and NATS, wired as `make run` wires them."""
    env = {"ACCESS_WEBHOOK_RATE_LIMIT_RPS": str(WEBHOOK_RPS)}
    with running_stack(tmp_path_factory.mktemp("stack"), env) as running:
        yield running


def drive_traffic(stack: RunningStack, seconds: float) -> None:
    """Requests of every kind the stack serves, spread over ``seconds``.

    Auth verifications (some refused), REST reads through the gateway (most answered
    from its cache), a cache warm, signed webhooks delivered to a live WebSocket
    subscriber (plus a bad signature, a duplicate and a rate-limited burst), pushed
    samples (one refused); last, NATS stops and one webhook fails to publish.
    """
    services = stack.services
    gateway = services["gateway"].url
    with httpx.Client(timeout=5) as client:
        auth = services["auth"].url
        token = dev_token(client, auth)
        admin = dev_token(client, auth, roles=["admin"])
        bearer_of = {"authorization": f"Bearer {token}"}
        with subscribed_socket(services["streaming"].url, token, [SIGNAL_TOPIC]) as socket:
            deadline = time.monotonic() + seconds
            rng = random.Random(7)
            markers: list[str] = []
            last_webhook = last_refusals = 0.0
            while time.monotonic() < deadline:
                # Refusals now and then, so their rates show in a long (demo) run too.
                if time.monotonic() - last_refusals > REFUSALS_EVERY:
                    _webhook_refusals(client, gateway)
                    warmed = client.post(f"{gateway}/api/v1/cache/warm",
                                         headers={"authorization": f"Bearer {admin}"})  # fmt: skip
                    assert warmed.status_code == 200, warmed.text
                    last_refusals = time.monotonic()
                bearer = token if rng.random() < 0.9 else "not-a-token"
                client.post(f"{auth}/auth/verify", headers={"authorization": f"Bearer {bearer}"})
                for name in SERVICES:
                    client.get(f"{services[name].url}/openapi.json")
                client.get(f"{services['entitlements'].url}/no/such/route")
                page = 1 if rng.random() < 0.8 else rng.randint(2, 50)
                read = client.get(f"{gateway}/api/v1/instruments", params={"page": page},
                                  headers=bearer_of)  # fmt: skip
                assert read.status_code == 200, read.text
                if time.monotonic() - last_webhook > 2 / WEBHOOK_RPS:
                    markers.append(f"live-{uuid.uuid4()}")
                    assert post_webhook(client, gateway, markers[-1]).status_code == 202
                    last_webhook = time.monotonic()
                _push_samples(client, services["metrics"].url, rng)
                time.sleep(0.05)
            for marker in markers:
                receive_marker(socket, marker)
        stack.nats.close()
        # The gateway waits for the bus a while (its publish buffer) before it answers 503.
        client.timeout = httpx.Timeout(30)
        failed = post_webhook(client, gateway, f"down-{uuid.uuid4()}")
        assert failed.status_code == 503, failed.text


def _webhook_refusals(client: httpx.Client, gateway: str) -> None:
    """A bad signature, a duplicate and a burst past the rate limit."""
    bad = post_webhook(client, gateway, "bad", {"X-Signature": "sha256=" + "0" * 64})
    assert bad.status_code == 401, bad.text
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    body = orjson.dumps({"source": "observability", "instrument": "BRENT", "timestamp": now,
                         "payload": {"id": "twice"}})  # fmt: skip
    first = post_webhook(client, gateway, "", body=body)
    again = post_webhook(client, gateway, "", body=body)
    assert (first.status_code, again.status_code) == (202, 409), again.text
    burst = [
        post_webhook(client, gateway, f"burst-{i}").status_code for i in range(WEBHOOK_RPS * 3)
    ]
    assert 429 in burst, burst
    time.sleep(1.5)  # the rate limit's window passes before the live webhooks


def _push_samples(client: httpx.Client, metrics: str, rng: random.Random) -> None:
    batch = [
        sample(labels={"route": rng.choice(["/a", "/b", "/c"])}, value=rng.randint(1, 5)),
        sample("streaming_lag_seconds", type="histogram", labels={"topic": "t"},
               value=rng.expovariate(20)),
        sample("gateway_queue_depth", type="gauge", labels={}, value=rng.randint(0, 9)),
    ]  # fmt: skip
    client.post(f"{metrics}/metrics/track", json={"samples": batch})
    if rng.random() < 0.1:
        client.post(f"{metrics}/metrics/track", json=sample(value=-1))


def panels() -> list[tuple[str, str, list[str]]]:
    return [
        (path.name, panel["title"], [t["expr"] for t in panel["targets"]])
        for path in sorted(DASHBOARDS.glob("*.json"))
        for panel in json.loads(path.read_text())["panels"]
    ]


@pytest.mark.timeout(900)  # a demo run for the docs' pictures may drive traffic for minutes
def test_prometheus_scrapes_every_service_loads_the_rules_and_panels_show_data(
    stack: RunningStack, tmp_path: Path
) -> None:
    jobs = {name: f"127.0.0.1:{stack.services[name].port}" for name in SERVICES}
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
        if (file, title) in NO_LOCAL_DATA:
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
