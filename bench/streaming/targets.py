"""The servers under test: the plain baseline, the blaster, and the streaming service.

Each is started afresh for every scenario, pinned to core 0, on a free port. The streaming
service runs as `make run` would run it (``python -m access_streaming``, ``ACCESS_ENV=local``)
with the real auth service (dev issuer; one token for every connection) and an allow-all
entitlements stand-in, both on core 1 beside the load tool, where they cost nothing once
the connections are up (the principal and the decisions are remembered).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from access_auth.dev.issuer import DevIssuer
from access_auth.settings import AuthSettings
from access_common.testing import free_port
from bench.streaming.loadgen import LOAD_CORE, Subscribe
from bench.streaming.processes import WORK, Process, Unavailable, pinned

__all__ = [
    "PUBLISH_PATH",
    "SERVER_CORE",
    "TOPIC_PREFIX",
    "Peers",
    "Target",
    "baseline",
    "blaster",
    "probe_streaming",
    "streaming",
    "streaming_missing",
    "streaming_peers",
    "topics_file",
]

SERVER_CORE = 0
# The streaming service's local-only publish endpoint (issue 18/19): {"topic","data"} or a list.
PUBLISH_PATH = "/dev/publish"
WS_PATH = "/ws/stream"
TOPIC_PREFIX = "md.ch"  # the load tool's default seed 003 topic names: md.ch0, md.ch1, ...
TOPICS = 500
# Streaming settings that lift seed 003's per-user/tenant/IP limits out of the way of one
# load tool holding 10,000 connections with one token from one address.
_STREAMING_LIMITS = {
    "ACCESS_MAX_WS_CONNECTIONS": "20000",
    "ACCESS_MAX_CONNECTIONS_PER_USER": "20000",
    "ACCESS_MAX_CONNECTIONS_PER_TENANT": "20000",
    "ACCESS_CONNECTS_PER_MINUTE_PER_IP": "1000000",
}
# Backends the bench never inherits from the shell: slots stay in-process, and the bus is
# chosen explicitly (--bus).
_STRIPPED = ("ACCESS_REDIS_URL", "ACCESS_KAFKA_BOOTSTRAP", "ACCESS_NATS_URL")

Starter = Callable[[str], AbstractContextManager[Process]]


@dataclass(frozen=True, slots=True)
class Target:
    """A server under test: its name, how to start it, and how the tool reaches it."""

    name: str
    start: Starter
    subscribe: Callable[[Process], Subscribe]


def _uvicorn(app: str, port: int) -> list[str]:
    # As the yardstick runs its plain baseline: uvloop, httptools, websockets.
    return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--ws", "websockets",
            "--log-level", "warning"]  # fmt: skip


def _plain(process: Process) -> Subscribe:
    return Subscribe(
        ws_url=f"ws://127.0.0.1:{process.port}{WS_PATH}?token={{{{token}}}}",
        publish_url=f"{process.base_url}/publish",
    )


def baseline() -> Target:
    """The yardstick's plain Python baseline, kept in bench/streaming/baseline.py."""

    def start(label: str) -> AbstractContextManager[Process]:
        port = free_port()
        argv = _uvicorn("bench.streaming.baseline:app", port)
        return pinned(f"baseline-{label}", argv, core=SERVER_CORE, port=port, probe="/health")

    return Target("plain baseline", start, _plain)


def blaster() -> Target:
    """Pre-built frames, one write per subscriber: the load tool's ceiling."""

    def start(label: str) -> AbstractContextManager[Process]:
        port = free_port()
        argv = [sys.executable, "-m", "bench.streaming.blaster", "--port", str(port)]
        return pinned(f"blaster-{label}", argv, core=SERVER_CORE, port=port, probe="/health")

    return Target("blaster", start, _plain)


@dataclass(frozen=True, slots=True)
class Peers:
    """What the streaming service under test calls, and the token its clients present."""

    auth_url: str
    entitlements_url: str
    token: str
    state_dir: Path
    bus: str
    prefix: str = TOPIC_PREFIX


def topics_file(prefix: str = TOPIC_PREFIX) -> Path:
    """A topic registry of <prefix>0 .. <prefix>499 on the default bus (the load tool's topics)."""
    lines = [
        "# Written by bench/streaming: the load tool's topics.",
        f'default = "{prefix}0"',
    ]
    for i in range(TOPICS):
        lines += ["", "[[topic]]", f'name = "{prefix}{i}"', 'bus = "nats"',
                  'required_role = "analyst"', 'description = "bench"']  # fmt: skip
    path = WORK / "topics.toml"
    WORK.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def streaming_peers(bus: str = "memory") -> Iterator[Peers]:
    """Start the auth service and the allow-all entitlements stand-in on core 1."""
    state = Path(tempfile.mkdtemp(prefix="bench-streaming-"))
    auth_port, ent_port = free_port(), free_port()
    settings = AuthSettings(env="local", state_dir=state, port=auth_port)
    token = DevIssuer.from_settings(settings).mint(
        sub="bench", tenant_id="tenant-bench", roles=["analyst"], ttl_seconds=86400
    )
    auth_env = {"ACCESS_ENV": "local", "ACCESS_PORT": str(auth_port),
                "ACCESS_STATE_DIR": str(state), "ACCESS_LOG_LEVEL": "warning"}  # fmt: skip
    auth_argv = [sys.executable, "-m", "access_auth"]
    ent_argv = _uvicorn("bench.streaming.allow_all:app", ent_port)
    with (
        pinned(
            "auth", auth_argv, core=LOAD_CORE, port=auth_port, probe="/health/live", env=auth_env
        ) as auth,  # fmt: skip
        pinned("entitlements", ent_argv, core=LOAD_CORE, port=ent_port, probe="/health") as ent,
    ):
        # On the shared NATS server the topics of one run are its own.
        prefix = f"bench{uuid.uuid4().hex[:8]}.ch" if bus == "nats" else TOPIC_PREFIX
        yield Peers(auth.base_url, ent.base_url, token, state, bus, prefix)


def _streaming_env(peers: Peers, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED}
    if peers.bus == "nats":
        nats = os.environ.get("ACCESS_NATS_URL") or os.environ.get("ACCESS_TEST_NATS_URL")
        if not nats:
            raise Unavailable("--bus nats needs ACCESS_NATS_URL (source the backends env)")
        env["ACCESS_NATS_URL"] = nats
    return {
        **env,
        **_STREAMING_LIMITS,
        "ACCESS_ENV": "local",
        "ACCESS_HOST": "127.0.0.1",
        "ACCESS_PORT": str(port),
        "ACCESS_WORKERS": "1",
        "ACCESS_LOG_LEVEL": "warning",
        "ACCESS_STATE_DIR": str(peers.state_dir),
        "ACCESS_AUTH_SERVICE_URL": peers.auth_url,
        "ACCESS_ENTITLEMENTS_SERVICE_URL": peers.entitlements_url,
        "ACCESS_METRICS_SERVICE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens
        "ACCESS_TOPICS_FILE": str(topics_file(peers.prefix)),
        "ACCESS_DEV_FEED": "false",
    }


def streaming(peers: Peers) -> Target:
    """The streaming service, as `python -m access_streaming` runs it."""

    def start(label: str) -> AbstractContextManager[Process]:
        port = free_port()
        argv = [sys.executable, "-m", "access_streaming"]
        env = _streaming_env(peers, port)
        return pinned(f"streaming-{label}", argv, core=SERVER_CORE, port=port,
                      probe="/health/live", env=env)  # fmt: skip

    def subscribe(process: Process) -> Subscribe:
        return Subscribe(
            ws_url=f"ws://127.0.0.1:{process.port}{WS_PATH}?token={{{{token}}}}",
            publish_url=f"{process.base_url}{PUBLISH_PATH}",
            token=peers.token,
            prefix=peers.prefix,
        )

    return Target("streaming service", start, subscribe)


def streaming_missing() -> str | None:
    """Why the streaming service cannot be measured without starting it, or None."""
    if importlib.util.find_spec("access_streaming") is None:
        return "access_streaming is not installed"
    return None


def probe_streaming(process: Process, peers: Peers) -> str | None:
    """Why a started streaming service cannot be measured (no publish endpoint...), or None."""
    request = urllib.request.Request(
        f"{process.base_url}{PUBLISH_PATH}", data=b"[]",
        headers={"content-type": "application/json"}, method="POST",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code in {404, 405}:
            return f"no POST {PUBLISH_PATH} (the service of issue 18 is not on this branch)"
        if exc.code != 422:  # an empty list may be refused as invalid: the route exists
            return f"POST {PUBLISH_PATH} answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"POST {PUBLISH_PATH} failed: {exc}"
    return _probe_websocket(process, peers)


def _probe_websocket(process: Process, peers: Peers) -> str | None:
    from websockets.exceptions import InvalidStatus, WebSocketException  # noqa: PLC0415
    from websockets.sync.client import connect  # noqa: PLC0415

    url = f"ws://127.0.0.1:{process.port}{WS_PATH}?token={peers.token}"
    try:
        with connect(url, open_timeout=10) as ws:
            first = ws.recv(timeout=10)
    except InvalidStatus as exc:
        return f"{WS_PATH} refused the upgrade: HTTP {exc.response.status_code}"
    except (WebSocketException, OSError, TimeoutError) as exc:
        return f"{WS_PATH} failed: {type(exc).__name__}"
    if "connection_established" not in str(first):
        return f"{WS_PATH} greeted with {str(first)[:80]}"
    return None
