"""Test helpers shared by every package's tests: real-backend URLs that never skip in CI."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

__all__ = [
    "LocalServer",
    "backend_url",
    "backends_required",
    "free_port",
    "kafka_server",
    "nats_server",
    "postgres_server",
    "redis_server",
]

_REPO = Path(__file__).resolve().parents[3]

_VARIABLES = {
    "redis": "ACCESS_TEST_REDIS_URL",
    "postgres": "ACCESS_TEST_POSTGRES_DSN",
    "nats": "ACCESS_TEST_NATS_URL",
    "kafka": "ACCESS_TEST_KAFKA_BOOTSTRAP",
    "keycloak": "ACCESS_TEST_KEYCLOAK_URL",
}


def backends_required() -> bool:
    """True under `make test` and in CI: a missing backend is then a failure, not a skip."""
    flags = (os.environ.get("CI", ""), os.environ.get("ACCESS_REQUIRE_BACKENDS", ""))
    return any(v.strip().lower() in {"1", "true", "yes"} for v in flags)


def backend_url(name: str) -> str:
    """The URL of the real backend started by scripts/backends.sh (or keycloak.sh).

    Fails the test when the backend is required but not configured; skips it only on a
    developer's ad-hoc run without backends.
    """
    variable = _VARIABLES[name]
    url = os.environ.get(variable)
    if url:
        return url
    script = "scripts/keycloak.sh up" if name == "keycloak" else "scripts/backends.sh up"
    message = f"{name}: {variable} is not set (start it with {script})"
    if backends_required():
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class LocalServer:
    """A real server process a test starts, stops and restarts (outage and recovery tests)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        *,
        user: str | None = None,
        scratch: Path | None = None,
    ) -> None:
        self.name = name
        self.scratch = scratch
        self.argv = argv
        self.port = port
        # The server runs as our direct child (no runuser in between), so we reap it and a
        # killed postmaster leaves no zombie behind to block its restart.
        self.user = user
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the process and wait until its port accepts connections."""
        self._proc = subprocess.Popen(  # noqa: S603 - argv built by the test helpers below
            self.argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            user=self.user,
        )
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the process group abruptly (an outage) and wait until the port is free."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(10)
        self._proc = None
        deadline = time.monotonic() + 10
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        """Stop for good and remove the scratch folder the helper made for it."""
        self.stop()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _binary(name: str, *candidates: Path) -> str:
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (scripts/backends.sh up installs it)"
        if backends_required():
            pytest.fail(message)
        pytest.skip(message)
    return found


def redis_server(port: int | None = None) -> LocalServer:
    """A throwaway Redis (no persistence) on a free port."""
    port = port or free_port()
    binary = _binary("redis-server")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return LocalServer("redis", argv, port)


def nats_server(store_dir: Path, port: int | None = None) -> LocalServer:
    """A throwaway NATS with JetStream storing under ``store_dir`` (kept across restarts)."""
    port = port or free_port()
    binary = _binary("nats-server", _REPO / ".venv" / "bin" / "nats-server")
    argv = [binary, "-js", "-sd", str(store_dir), "-a", "127.0.0.1", "-p", str(port)]
    return LocalServer("nats", argv, port)


def postgres_server(port: int | None = None) -> LocalServer:
    """A throwaway PostgreSQL cluster (trust auth, user ``postgres``) run as the postgres user.

    Its DSN is ``postgresql://postgres@127.0.0.1:<port>/postgres``.
    """
    port = port or free_port()
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    initdb = _binary("initdb", *(b / "initdb" for b in bins))
    postgres = _binary("postgres", *(b / "postgres" for b in bins))
    data = Path(tempfile.mkdtemp(prefix="access-pg-"))
    data.chmod(0o777)
    user = "postgres" if os.geteuid() == 0 else None
    subprocess.run(  # noqa: S603
        [initdb, "-D", str(data / "d"), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        user=user,
    )
    argv = [
        postgres, "-D", str(data / "d"), "-p", str(port),
        "-k", str(data), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
    ]  # fmt: skip
    return LocalServer("postgres", argv, port, user=user, scratch=data)


def kafka_server(data_dir: Path, port: int | None = None) -> LocalServer:
    """A throwaway single-node Kafka (KRaft) from the jars scripts/backends.sh fetched.

    Storage under ``data_dir`` is formatted here and kept across restarts.
    """
    port = port or free_port()
    controller = free_port()
    libs = _REPO / ".local" / "backends" / "kafka" / "libs"
    if not any(libs.glob("kafka_2.13-*.jar")):
        message = f"no Kafka jars in {libs} (scripts/backends.sh up kafka fetches them)"
        if backends_required():
            pytest.fail(message)
        pytest.skip(message)
    java = _binary("java")
    template = (_REPO / "scripts" / "kafka" / "server.properties.in").read_text()
    config = data_dir / "server.properties"
    data_dir.mkdir(parents=True, exist_ok=True)
    config.write_text(
        template.replace("@BROKER_PORT@", str(port))
        .replace("@CONTROLLER_PORT@", str(controller))
        .replace("@DATA_DIR@", str(data_dir / "data"))
    )
    jvm = [
        java, "-Xms128m", "-Xmx384m",
        f"-Dlog4j2.configurationFile={_REPO / 'scripts' / 'kafka' / 'log4j2.properties'}",
        f"-Dkafka.log.file={data_dir / 'kafka.log'}", "-cp", f"{libs}/*",
    ]  # fmt: skip
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    subprocess.run(  # noqa: S603
        [*jvm, "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id,
         "-c", str(config)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return LocalServer("kafka", [*jvm, "kafka.Kafka", str(config)], port)
