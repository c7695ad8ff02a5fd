"""The upstreams of the current route table, kept across reloads (breakers, bounds)."""

from __future__ import annotations

from collections.abc import Mapping

from access_common.errors import DependencyUnavailable
from access_common.health import HealthCheck, HealthRegistry
from access_common.http import HttpClient
from access_gateway.metrics import GatewayMetrics
from access_gateway.routing.schema import UpstreamSpec
from access_gateway.upstream.client import Upstream

__all__ = ["Upstreams"]


class Upstreams:
    """Name → :class:`Upstream`; a reload reconfigures the ones it keeps."""

    def __init__(
        self,
        http: HttpClient,
        metrics: GatewayMetrics,
        *,
        max_body_bytes: int,
        health: HealthRegistry | None = None,
    ) -> None:
        self._http = http
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes
        self._health = health
        self._by_name: dict[str, Upstream] = {}

    def __getitem__(self, name: str) -> Upstream:
        return self._by_name[name]

    def names(self) -> list[str]:
        """The configured upstream names."""
        return list(self._by_name)

    def sync(self, specs: Mapping[str, UpstreamSpec]) -> None:
        """Make the set of upstreams match a (re)loaded table."""
        for name in [n for n in self._by_name if n not in specs]:
            del self._by_name[name]
        for name, spec in specs.items():
            current = self._by_name.get(name)
            if current is not None:
                current.reconfigure(spec)
                continue
            self._by_name[name] = Upstream(
                name, spec, self._http, self._metrics, max_body_bytes=self._max_body_bytes
            )
            if self._health is not None:
                self._health.add(name, self._check(name), required=False)

    def _check(self, name: str) -> HealthCheck:
        async def check() -> str | None:
            upstream = self._by_name.get(name)
            if upstream is None:
                raise DependencyUnavailable(f"{name} is no longer configured")
            return await upstream.health()

        return check
