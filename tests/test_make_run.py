"""`make run` end to end: five healthy processes, a dev token that verifies, clean Ctrl-C.

Runs scripts/run.py on the fixed ports, so it needs them free (it is what a newcomer runs).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
PORTS = [8000, 8001, 8010, 8011, 8012, 4222, 8020]  # 8020: the dev projection upstream

pytestmark = pytest.mark.timeout(180)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_make_run_starts_five_services_and_stops_cleanly(tmp_path: Path) -> None:
    busy = [p for p in PORTS if _listening(p)]
    assert not busy, f"ports in use before the test: {busy}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESS_")}
    env["ACCESS_STATE_DIR"] = str(tmp_path / "state")
    proc = subprocess.Popen(
        [sys.executable, "scripts/run.py", "--quiet"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "All five services are healthy" in line or proc.poll() is not None:
                break
        assert any("All five services are healthy" in line for line in lines), "".join(lines)

        minted = subprocess.run(
            [sys.executable, "-m", "access_auth.dev", "--sub", "alice", "--tenant", "tenant-a"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = minted.stdout.strip().splitlines()[-1]
        with httpx.Client(timeout=5) as client:
            for port in (8000, 8001, 8010, 8011, 8012):
                assert client.get(f"http://127.0.0.1:{port}/health").json()["status"] == "ok"
            verified = client.post(
                "http://127.0.0.1:8010/auth/verify", headers={"Authorization": f"Bearer {token}"}
            )
            assert verified.status_code == 200, verified.text
            assert verified.json()["sub"] == "alice"
            assert verified.json()["tenant_id"] == "tenant-a"
            issued = client.post(
                "http://127.0.0.1:8010/auth/dev/token",
                json={"sub": "bob", "tenant_id": "tenant-b", "roles": ["analyst"]},
            )
            assert issued.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0
    deadline = time.monotonic() + 10
    while any(_listening(p) for p in PORTS) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in PORTS if _listening(p)], "ports still held after Ctrl-C"
