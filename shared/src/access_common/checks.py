"""Ready-made health checks: a backend's ping and a peer service's liveness."""

from __future__ import annotations

from typing import Protocol

from access_common.errors import DependencyUnavailable
from access_common.health import HealthCheck
from access_common.http import HttpClient

__all__ = ["Pingable", "peer_check", "ping_check"]


class Pingable(Protocol):
    """Anything with an async ``ping`` that raises when unreachable (every backend)."""

    async def ping(self) -> None:
        """Return when reachable."""
        ...


def ping_check(backend: Pingable) -> HealthCheck:
    """A check that is ok while the backend answers its ping."""

    async def check() -> None:
        await backend.ping()

    return check


def peer_check(http: HttpClient, base_url: str) -> HealthCheck:
    """A check that is ok while the peer service's ``/health/live`` answers 200."""
    url = base_url.rstrip("/") + "/health/live"

    async def check() -> None:
        response = await http.request("GET", url, idempotent=False)
        if response.status_code != 200:
            raise DependencyUnavailable(f"{url} answered {response.status_code}")

    return check
