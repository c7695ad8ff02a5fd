"""The bus's NATS client: connect, reconnect, and keeping its readers fed through outages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from access_common.backends._nats.codec import DRIVER_ERRORS, error
from access_common.backends._nats.reader import HEARTBEAT_S, Reader

if TYPE_CHECKING:
    from access_common.backends._nats.subscription import NatsSubscription

__all__ = ["Connection"]

logger = logging.getLogger("access_common.bus.nats")


class Connection:
    """One NATS client, the subscriptions open on it and the readers it keeps pulling."""

    def __init__(self, servers: list[str], timeout: float) -> None:
        self.servers = servers
        self.timeout = timeout
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.subscriptions: set[NatsSubscription] = set()
        self.readers: set[Reader] = set()
        self.closed = False
        self._connect_lock = asyncio.Lock()
        self._connected = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._outage = False

    def _started(self) -> bool:
        return self.nc is not None

    def nc_required(self) -> Client:
        """The client; BackendError before start."""
        if self.nc is None:
            raise error("use before start")
        return self.nc

    def js_required(self) -> JetStreamContext:
        """The JetStream context; BackendError before start."""
        if self.js is None:
            raise error("use before start")
        return self.js

    async def _on_error(self, exc: Exception) -> None:
        # Reconnect attempts fail once a second during an outage: say it once.
        if self._outage:
            logger.debug("nats error: %r", exc)
        else:
            logger.warning("nats error: %r", exc)

    async def _on_disconnected(self) -> None:
        self._connected.clear()
        if not self.closed and not self._outage:
            self._outage = True
            logger.warning("nats disconnected; reconnecting")

    async def _on_reconnected(self) -> None:
        self._outage = False
        self._connected.set()
        logger.info("nats reconnected")
        for reader in list(self.readers):
            reader.pending = 0
            await reader.top_up()

    async def start(self) -> None:
        """Connect; idempotent."""
        if self.closed:
            raise error("use after close")
        if self._started():
            return
        async with self._connect_lock:
            if self._started():
                return
            nc = Client()
            # Attempts of the first connect fail loudly enough through BackendError.
            self._outage = True
            try:
                # The client would retry forever on its own; the first connect is bounded.
                async with asyncio.timeout(max(self.timeout, 2.5)):
                    await nc.connect(
                        servers=self.servers,
                        name="access-bus",
                        connect_timeout=2,
                        allow_reconnect=True,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=1,
                        ping_interval=10,
                        max_outstanding_pings=3,
                        error_cb=self._on_error,
                        disconnected_cb=self._on_disconnected,
                        reconnected_cb=self._on_reconnected,
                    )
            except (*DRIVER_ERRORS, nats.errors.NoServersError) as exc:
                with contextlib.suppress(Exception):
                    await nc.close()
                raise error("connect", exc) from exc
            self.js = nc.jetstream(timeout=self.timeout)
            self.nc = nc
            self._outage = False
            self._connected.set()
            self._watchdog = asyncio.create_task(self._watch())

    async def ready(self) -> Client:
        """The connected client: start if needed, wait up to ``timeout`` for a reconnect."""
        nc = self.nc
        if nc is None:
            await self.start()
            nc = self.nc_required()
        if not nc.is_connected:
            if nc.is_closed or self.closed:
                raise error("use after close")
            try:
                async with asyncio.timeout(self.timeout):
                    await self._connected.wait()
            except TimeoutError as exc:
                raise error("reconnect", exc) from exc
        return nc

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            now = time.monotonic()
            for reader in list(self.readers):
                try:
                    await reader.check(now)
                except Exception:
                    logger.exception("bus watchdog failed on %s", reader.topic)

    def spawn(self, coroutine: Any) -> None:
        """Run ``coroutine`` in the background until it ends or the connection closes."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def publish_quietly(self, subject: str, payload: bytes) -> None:
        """Publish if connected, ignoring failure (for acks, naks and cleanup)."""
        if self.nc is not None:
            with contextlib.suppress(*DRIVER_ERRORS):
                await self.nc.publish(subject, payload)

    async def close(self) -> None:
        """Cancel the background tasks, then close the client; idempotent."""
        self.closed = True
        tasks = [*self._tasks, *([self._watchdog] if self._watchdog else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
