"""One upstream service: its circuit breaker, its concurrency bound and the call itself.

Failures become the gateway's upstream errors with the upstream named in ``details``:
unreachable (502), 5xx (502), circuit open (503), saturated (503), timeout (504).
Retries happen only for idempotent calls, within the route's timeout, never after it.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

import httpx

from access_common.errors import DependencyUnavailable
from access_common.http import HttpClient
from access_gateway.errors import (
    UpstreamBadResponse,
    UpstreamCircuitOpen,
    UpstreamError,
    UpstreamSaturated,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from access_gateway.metrics import GatewayMetrics
from access_gateway.routing.schema import UpstreamSpec
from access_gateway.upstream.breaker import CircuitBreaker

__all__ = ["Upstream", "UpstreamCall"]


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """What to send: method, path (already rendered), query, body, headers, limits."""

    method: str
    path: str
    params: list[tuple[str, str]]
    content: bytes | None
    headers: dict[str, str]
    timeout: float
    idempotent: bool


class Upstream:
    """Calls to one named upstream, bounded and guarded by a breaker."""

    def __init__(
        self,
        name: str,
        spec: UpstreamSpec,
        http: HttpClient,
        metrics: GatewayMetrics,
        *,
        max_body_bytes: int,
    ) -> None:
        self.name = name
        self.http = http
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.breaker = CircuitBreaker(spec.breaker.failure_threshold, spec.breaker.reset_seconds)
        self.spec = spec
        self._slots = asyncio.Semaphore(spec.max_concurrency)
        self._waiting = 0
        # labels() hashes and locks on every call: the per-call children are kept.
        self._ok = metrics.upstream_calls.labels(name, "ok")
        self._seconds = metrics.upstream_seconds.labels(name)
        metrics.circuit_state.labels(name).set_function(self._state_value)

    def _state_value(self) -> float:
        return {"closed": 0.0, "half_open": 1.0, "open": 2.0}[self.breaker.state]

    def reconfigure(self, spec: UpstreamSpec) -> None:
        """Take a reloaded spec; the breaker state and calls in flight carry over."""
        if spec.max_concurrency != self.spec.max_concurrency:
            # Calls in flight release the old semaphore; new calls use the new bound.
            self._slots = asyncio.Semaphore(spec.max_concurrency)
        self.breaker.reconfigure(spec.breaker.failure_threshold, spec.breaker.reset_seconds)
        self.spec = spec

    @property
    def base_url(self) -> str:
        """The upstream's base URL."""
        return self.spec.url.rstrip("/")

    async def health(self) -> str | None:
        """Health check: down when it does not answer, degraded while the circuit is open."""
        response = await self.http.request(
            "GET", self.base_url + self.spec.health_path, idempotent=False
        )
        if response.status_code >= 500:
            raise UpstreamError(self.name, details={"status": response.status_code})
        return None if self.breaker.state == "closed" else "degraded"

    async def send(self, call: UpstreamCall) -> httpx.Response:
        """Send one call; raise the precise upstream error when it fails."""
        if not self.breaker.allow():
            retry = max(1, math.ceil(self.breaker.retry_after()))
            self.metrics.upstream_calls.labels(self.name, "circuit_open").inc()
            raise UpstreamCircuitOpen(self.name, headers={"Retry-After": str(retry)})
        slots = self._slots
        if slots.locked() and self._waiting >= self.spec.max_queue:
            self.metrics.upstream_calls.labels(self.name, "saturated").inc()
            # Not the upstream's fault: a half-open probe must not stay claimed.
            self.breaker.release_probe()
            raise UpstreamSaturated(self.name, headers={"Retry-After": "1"})
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcome = "error"
        try:
            async with asyncio.timeout(call.timeout):
                self._waiting += 1
                try:
                    await slots.acquire()
                finally:
                    self._waiting -= 1
                try:
                    response = await self._request(call, deadline=started + call.timeout)
                finally:
                    slots.release()
        except TimeoutError:
            outcome = "timeout"
            self.breaker.failure()
            raise UpstreamTimeout(self.name, details={"timeout_seconds": call.timeout}) from None
        except DependencyUnavailable as exc:
            self.breaker.failure()
            if exc.details.get("timeout"):
                outcome = "timeout"
                raise UpstreamTimeout(
                    self.name, details={"timeout_seconds": call.timeout}
                ) from None
            outcome = "unreachable"
            raise UpstreamUnreachable(self.name) from None
        except BaseException:
            # Cancelled (shutdown, a caller gone): no verdict on the upstream, and a
            # half-open probe must not stay claimed forever.
            self.breaker.release_probe()
            raise
        finally:
            self._seconds.observe(loop.time() - started)
            if outcome != "error":
                self.metrics.upstream_calls.labels(self.name, outcome).inc()
        if response.status_code >= 500:
            self.breaker.failure()
            self.metrics.upstream_calls.labels(self.name, "5xx").inc()
            raise UpstreamError(self.name, details={"status": response.status_code})
        self.breaker.success()
        if len(response.content) > self.max_body_bytes:
            self.metrics.upstream_calls.labels(self.name, "too_large").inc()
            raise UpstreamBadResponse(
                self.name, "The upstream's answer is too large",
                details={"limit_bytes": self.max_body_bytes},
            )  # fmt: skip
        self._ok.inc()
        return response

    async def _request(self, call: UpstreamCall, *, deadline: float) -> httpx.Response:
        remaining = max(0.001, deadline - asyncio.get_running_loop().time())
        kwargs: dict[str, Any] = {}
        if call.params:
            kwargs["params"] = call.params
        return await self.http.request(
            call.method,
            self.base_url + call.path,
            content=call.content,
            headers=call.headers,
            idempotent=call.idempotent,
            timeout=remaining,
            retries=self.spec.retries,
            **kwargs,
        )
