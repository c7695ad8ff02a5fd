"""ACCESS_WORKERS=2: the service starts, and /metrics adds up every worker's counts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from access_common.testing import free_port

LIVE = re.compile(
    r'^http_requests_total\{method="GET",route="/health/live",status="200"\} (\S+)$', re.M
)


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    port = free_port()
    # No PROMETHEUS_MULTIPROC_DIR given: serve() makes one under the state folder.
    metrics_dir = tmp_path / "metrics" / f"auth-{port}"
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ACCESS_") and k != "PROMETHEUS_MULTIPROC_DIR"
        },
        "ACCESS_ENV": "local",
        "ACCESS_WORKERS": "2",
        "ACCESS_PORT": str(port),
        "ACCESS_STATE_DIR": str(tmp_path),
        "ACCESS_LOG_LEVEL": "warning",
    }
    log = tmp_path / "auth.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "access_auth"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "two workers did not start"
            time.sleep(0.2)
        yield base, metrics_dir, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def _serving_pids(metrics_dir: Path) -> set[str]:
    # A worker's counter file appears with the first request it counts.
    return {p.stem.rsplit("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}


def test_metrics_sum_every_workers_counts(
    two_workers: tuple[str, Path, subprocess.Popen[bytes]],
) -> None:
    base, metrics_dir, proc = two_workers
    sent = 1  # the readiness probe above
    # A new connection per request, until the kernel has handed some to each worker.
    for _ in range(20):
        for _ in range(20):
            with httpx.Client() as client:
                assert client.get(f"{base}/health/live").status_code == 200
            sent += 1
        if len(_serving_pids(metrics_dir)) == 2:
            break
    assert len(_serving_pids(metrics_dir)) == 2, "one worker answered every request"

    # Whichever worker answers the scrape, it reports the sum over both.
    for _ in range(8):
        with httpx.Client() as client:
            text = client.get(f"{base}/metrics").text
        match = LIVE.search(text)
        assert match is not None, text
        assert float(match.group(1)) == sent
        assert text.count("\nhttp_requests_in_flight ") == 1

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
