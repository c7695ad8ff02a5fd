"""A backend going down raises BackendError quickly, and the same instance recovers.

Redis: the test runs its own throwaway ``redis-server`` on a free port, kills it
(SIGKILL, as a crash), freezes it (SIGSTOP, as a hung host) and starts it again on the
same port, while one RedisKeyValue instance keeps being used.

PostgreSQL: running a throwaway server needs initdb and a non-root user, so the real
backend from scripts/backends.sh is reached through a TCP relay the test controls.
Taking the relay down aborts every pooled connection and refuses new ones, which is
what a PostgreSQL restart looks like to the client; bringing it back on the same port
must let the same PostgresStore work again without a restart. A relay that accepts
but never answers stands in for a hung server. An unreachable port checks fast
failure without any backend.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from access_common.backends.postgres_store import PostgresStore
from access_common.backends.redis_kv import RedisKeyValue
from access_common.errors import BackendError
from access_common.testing import backend_url, backends_required, free_port

# What "quickly" means: well under a request timeout, well over the ~1-2 s budgets.
FAST = 3.0
SECRET = "hunter2-do-not-leak"


async def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return


async def fails_fast(call: Callable[[], Awaitable[object]], backend: str) -> BackendError:
    """Run ``call``; assert it raised BackendError (not a driver error) within FAST."""
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        await call()
    elapsed = time.monotonic() - started
    assert elapsed < FAST, f"took {elapsed:.2f}s"
    assert caught.value.code == "BACKEND_UNAVAILABLE"
    assert caught.value.details == {"backend": backend}
    return caught.value


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        assert SECRET not in str(text)
        assert SECRET not in repr(text)


# Redis


class RedisServer:
    """A redis-server child process on a fixed port, restartable."""

    def __init__(self, binary: str, port: int, directory: Path) -> None:
        self.binary = binary
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        command += ["--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        await wait_for_port(self.port)

    def kill(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                # A stopped process only dies once it may run again.
                self.process.send_signal(signal.SIGCONT)
                self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (scripts/backends.sh installs it)"
        if backends_required():
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture
async def redis_server(redis_binary: str, tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(redis_binary, free_port(), tmp_path)
    await server.start()
    try:
        yield server
    finally:
        server.kill()


async def redis_works(kv: RedisKeyValue, tag: str) -> None:
    """Every kind of command succeeds, the MULTI/EXEC of incr(ttl=...) included."""
    await kv.ping()
    await kv.set(f"outage:{tag}:k", b"v", ttl=60)
    assert await kv.get(f"outage:{tag}:k") == b"v"
    assert await kv.set_if_absent(f"outage:{tag}:nonce", b"n", ttl=60) is True
    assert await kv.incr(f"outage:{tag}:counter", ttl=60) == 1
    assert await kv.incr(f"outage:{tag}:counter") == 2
    left = await kv.ttl(f"outage:{tag}:counter")
    assert left is not None
    assert await kv.delete(f"outage:{tag}:k") is True


async def redis_fails_fast(kv: RedisKeyValue) -> None:
    calls: list[Callable[[], Awaitable[object]]] = [
        kv.ping,
        lambda: kv.get("outage:k"),
        lambda: kv.set("outage:k", b"v"),
        lambda: kv.set_if_absent("outage:n", b"v", ttl=5),
        lambda: kv.incr("outage:c", ttl=5),
        lambda: kv.incr("outage:c"),
        lambda: kv.ttl("outage:k"),
        lambda: kv.delete("outage:k"),
    ]
    for call in calls:
        await fails_fast(call, "redis")


@pytest.mark.redis
async def test_redis_crash_fails_fast_then_recovers(redis_server: RedisServer) -> None:
    kv = RedisKeyValue(redis_server.url)
    try:
        # Fill the pool with several connections, all of which the crash breaks.
        await asyncio.gather(*(redis_works(kv, f"before{i}") for i in range(5)))
        redis_server.kill()
        await redis_fails_fast(kv)
        await redis_server.start()
        # The very first call after the restart already works: nothing is restarted.
        await redis_works(kv, "after")
        await asyncio.gather(*(redis_works(kv, f"after{i}") for i in range(5)))
        # The data did not survive (no persistence): the server really restarted.
        assert await kv.get("outage:before0:nonce") is None
    finally:
        await kv.close()


@pytest.mark.redis
async def test_redis_restart_between_calls_is_invisible(redis_server: RedisServer) -> None:
    kv = RedisKeyValue(redis_server.url)
    try:
        await asyncio.gather(*(redis_works(kv, f"before{i}") for i in range(5)))
        # Every pooled connection is now dead, but no call saw the outage.
        redis_server.kill()
        await redis_server.start()
        await redis_works(kv, "after")
    finally:
        await kv.close()


@pytest.mark.redis
async def test_redis_hung_server_times_out(redis_server: RedisServer) -> None:
    kv = RedisKeyValue(redis_server.url)
    try:
        await redis_works(kv, "before")
        redis_server.pause()
        try:
            await fails_fast(kv.ping, "redis")
            await fails_fast(lambda: kv.incr("outage:c", ttl=5), "redis")
        finally:
            redis_server.resume()
        await redis_works(kv, "after")
    finally:
        await kv.close()


async def test_redis_unreachable_fails_fast_without_leaking_the_password() -> None:
    kv = RedisKeyValue(f"redis://user:{SECRET}@127.0.0.1:{free_port()}/0")
    try:
        error = await fails_fast(kv.ping, "redis")
        await fails_fast(lambda: kv.set("k", b"v"), "redis")
        assert_no_secret(error, error.message, error.details, kv)
        assert "***" in repr(kv)
    finally:
        await kv.close()


# PostgreSQL


class Relay:
    """A TCP relay to a real server that the test can take down and bring back."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.answer = True
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Refuse new connections and reset every open one, like a crashed server."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            if not self.answer:
                await reader.read()  # Accept, then never say a word.
                return
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
            self._writers.add(upstream)
            await asyncio.gather(self._pipe(reader, upstream), self._pipe(upstream_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass  # down() cancels us on purpose; the client sees its connection reset.
        finally:
            for end in (writer, upstream):
                if end is not None:
                    end.transport.abort()
                    self._writers.discard(end)
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction; when it ends, cut the other end so the other pipe ends."""
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.transport.abort()


def through(dsn: str, port: int) -> str:
    """The DSN pointed at 127.0.0.1:port instead of its own host."""
    parts = urlsplit(dsn)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    target = urlsplit(backend_url("postgres"))
    server = Relay(target.hostname or "127.0.0.1", target.port or 5432)
    await server.up()
    try:
        yield server
    finally:
        await server.down()


async def postgres_works(store: PostgresStore) -> None:
    await store.ping()
    assert await store.fetchrow("SELECT $1::int + 1 AS n", 41) == {"n": 42}
    assert await store.execute("SELECT 1") == 0
    async with store.transaction() as tx:
        assert await tx.fetch("SELECT 1 AS one") == [{"one": 1}]


async def postgres_fails_fast(store: PostgresStore) -> None:
    async def in_transaction() -> None:
        async with store.transaction() as tx:
            await tx.execute("SELECT 1")

    calls: list[Callable[[], Awaitable[object]]] = [
        store.ping,
        lambda: store.fetch("SELECT 1"),
        lambda: store.fetchrow("SELECT 1"),
        lambda: store.execute("SELECT 1"),
        in_transaction,
    ]
    for call in calls:
        await fails_fast(call, "postgres")


async def fill_pool(store: PostgresStore, size: int) -> None:
    """Hold ``size`` connections at once, so the pool keeps that many open."""
    gate = asyncio.Barrier(size)

    async def hold() -> None:
        async with store.transaction() as tx:
            await tx.execute("SELECT 1")
            await gate.wait()

    await asyncio.gather(*(hold() for _ in range(size)))


@pytest.mark.postgres
async def test_postgres_outage_fails_fast_then_recovers(relay: Relay) -> None:
    store = PostgresStore(through(backend_url("postgres"), relay.port), min_size=1, max_size=4)
    try:
        await fill_pool(store, 4)
        await postgres_works(store)
        await relay.down()
        await postgres_fails_fast(store)
        await relay.up()
        await postgres_works(store)
        await fill_pool(store, 4)
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_restart_between_calls_is_invisible(relay: Relay) -> None:
    store = PostgresStore(through(backend_url("postgres"), relay.port), min_size=1, max_size=4)
    try:
        await fill_pool(store, 4)
        await relay.down()
        await relay.up()
        # Every pooled connection is dead; the pool replaces them as it hands them out.
        await postgres_works(store)
        await fill_pool(store, 4)
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_down_at_start_then_recovers(relay: Relay) -> None:
    store = PostgresStore(through(backend_url("postgres"), relay.port))
    try:
        await relay.down()
        await fails_fast(store.start, "postgres")
        await postgres_fails_fast(store)
        await relay.up()
        await store.start()
        await postgres_works(store)
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_hung_server_times_out(relay: Relay) -> None:
    relay.answer = False
    store = PostgresStore(through(backend_url("postgres"), relay.port))
    try:
        # The connect timeout (2 s) bounds the wait for a server that never answers.
        await fails_fast(store.ping, "postgres")
        relay.answer = True
        await postgres_works(store)
    finally:
        await store.close()


async def test_postgres_unreachable_fails_fast_without_leaking_the_password() -> None:
    store = PostgresStore(f"postgresql://access:{SECRET}@127.0.0.1:{free_port()}/access")
    try:
        error = await fails_fast(store.ping, "postgres")
        await fails_fast(lambda: store.fetch("SELECT 1"), "postgres")
        assert_no_secret(error, error.message, error.details, store)
        assert "***" in repr(store)
    finally:
        await store.close()
