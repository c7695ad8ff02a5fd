"""What a service owns for its lifetime: the HTTP client and its backends, opened and closed once.

A backend that cannot be reached at start does not stop the service: it starts
degraded, its health check reports the backend down, and the backend's own
reconnect (or the next call) brings it back without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI

from access_common.backends.bus import Bus
from access_common.backends.kv import KeyValue
from access_common.backends.store import Migration, Store
from access_common.checks import peer_check, ping_check
from access_common.errors import AccessError
from access_common.health import HealthRegistry
from access_common.http import HttpClient

__all__ = ["Lifespan", "Resources", "resources_lifespan"]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

logger = logging.getLogger("access_common.lifecycle")


@dataclass(slots=True)
class Resources:
    """The process-wide clients of one service; tests pass their own."""

    http: HttpClient
    kv: KeyValue | None = None
    store: Store | None = None
    bus: Bus | None = None
    kafka: Bus | None = None
    migrations: tuple[Migration, ...] = ()
    peers: Mapping[str, str] = field(default_factory=dict)

    def register_checks(self, health: HealthRegistry) -> None:
        """Add a health check per configured backend and peer service."""
        if self.kv is not None:
            health.add(self.kv.name, ping_check(self.kv))
        if self.store is not None:
            health.add(self.store.name, ping_check(self.store))
        if self.bus is not None:
            health.add(self.bus.name, ping_check(self.bus))
        if self.kafka is not None:
            health.add(self.kafka.name, ping_check(self.kafka))
        for name, url in self.peers.items():
            health.add(name, peer_check(self.http, url), required=False)

    async def open(self) -> None:
        """Connect the backends that connect eagerly and apply migrations."""
        for backend in (self.store, self.bus, self.kafka):
            if backend is None:
                continue
            try:
                await backend.start()
            except AccessError as exc:
                logger.warning(
                    "%s unavailable at start; serving degraded",
                    backend.name,
                    extra={"backend": backend.name, "code": exc.code},
                )
        if self.store is not None and self.migrations:
            try:
                await self.store.migrate(self.migrations)
            except AccessError as exc:
                logger.warning("migrations not applied: %s", exc.code, extra={"code": exc.code})

    async def close(self) -> None:
        """Close everything, in reverse order of need; never raises."""
        for closer in (self.kafka, self.bus, self.store, self.kv):
            if closer is None:
                continue
            try:
                await closer.close()
            except Exception:
                logger.warning("closing %s failed", closer.name, exc_info=True)
        await self.http.aclose()


def resources_lifespan(resources: Resources, health: HealthRegistry) -> Lifespan:
    """A lifespan that opens the resources, registers their checks and closes them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources.register_checks(health)
        await resources.open()
        app.state.resources = resources
        try:
            yield
        finally:
            await resources.close()

    return lifespan
