"""Health in the seed shape, with liveness and readiness split for Kubernetes.

``GET /health`` reports each dependency (ok, degraded or down) and the overall status;
``GET /health/live`` answers while the process runs; ``GET /health/ready`` answers 503
while a required dependency is down, so a load balancer stops sending traffic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from access_common.responses import JsonBytesResponse
from access_common.routes import DirectRoute

__all__ = ["HealthCheck", "HealthRegistry", "HealthReport", "Status", "health_router"]

_LIVE = b'{"status":"ok"}'

Status = Literal["ok", "degraded", "down"]
HealthCheck = Callable[[], Awaitable[str | None]]

logger = logging.getLogger("access_common.health")


class HealthReport(BaseModel):
    """The body of ``GET /health``."""

    service: str
    status: Status
    uptime_seconds: int
    dependencies: dict[str, Status]
    version: str
    commit: str


@dataclass(slots=True)
class _Check:
    run: HealthCheck
    required: bool
    critical: bool


class HealthRegistry:
    """Named dependency checks; a check returns None (ok), "degraded", or raises (down)."""

    def __init__(self, timeout: float = 1.0) -> None:
        self.timeout = timeout
        self.started = time.monotonic()
        self._checks: dict[str, _Check] = {}
        self._last: dict[str, Status] = {}

    def add(
        self, name: str, check: HealthCheck, *, required: bool = True, critical: bool = False
    ) -> None:
        """Register a dependency.

        ``required`` ones gate readiness when down; a ``critical`` one down means the
        service cannot do its job at all, and the overall status is "down".
        """
        self._checks[name] = _Check(check, required or critical, critical)

    async def _one(self, name: str, check: _Check) -> Status:
        try:
            result = await asyncio.wait_for(check.run(), self.timeout)
        except Exception as exc:
            status: Status = "down"
            reason = type(exc).__name__
        else:
            status = "degraded" if result == "degraded" else "ok"
            reason = ""
        if self._last.get(name) != status:
            # Log transitions only, so a dead dependency does not flood the log.
            level = logging.INFO if status == "ok" else logging.WARNING
            extra = {"dependency": name, "reason": reason}
            logger.log(level, "dependency %s is %s", name, status, extra=extra)
            self._last[name] = status
        return status

    async def statuses(self) -> dict[str, Status]:
        """Run every check concurrently, each bounded by the timeout."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._one(n, self._checks[n]) for n in names))
        return dict(zip(names, results, strict=True))

    async def report(self, service: str, version: str, commit: str) -> HealthReport:
        """The full seed-shaped report."""
        deps = await self.statuses()
        overall: Status = "ok"
        if any(s != "ok" for s in deps.values()):
            overall = "degraded"
        if any(deps[n] == "down" for n, c in self._checks.items() if c.critical):
            overall = "down"
        return HealthReport(
            service=service,
            status=overall,
            uptime_seconds=int(time.monotonic() - self.started),
            dependencies=deps,
            version=version,
            commit=commit,
        )

    async def ready(self) -> tuple[bool, dict[str, Status]]:
        """False when a required dependency is down."""
        deps = await self.statuses()
        ok = all(deps[n] != "down" for n, c in self._checks.items() if c.required)
        return ok, deps


def health_router(service: str, version: str, commit: str, registry: HealthRegistry) -> APIRouter:
    """The /health, /health/live and /health/ready routes of one service."""
    router = APIRouter(tags=["health"])

    @router.get("/health", response_model=HealthReport, summary="Service and dependency health")
    async def health() -> HealthReport:
        return await registry.report(service, version, commit)

    async def live() -> JsonBytesResponse:
        return JsonBytesResponse(_LIVE)

    # Probed every few seconds by every orchestrator: served without FastAPI's solver.
    router.add_api_route(
        "/health/live",
        live,
        methods=["GET"],
        response_model=dict[str, str],
        summary="Liveness: the process is serving",
        route_class_override=DirectRoute,
    )

    @router.get(
        "/health/ready",
        summary="Readiness: every required dependency answers",
        responses={503: {"description": "A required dependency is down"}},
    )
    async def ready() -> JsonBytesResponse:
        ok, deps = await registry.ready()
        body = {"status": "ok" if ok else "down", "dependencies": deps}
        return JsonBytesResponse(body, status_code=200 if ok else 503)

    return router
