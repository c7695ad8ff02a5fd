"""Webhook rate limits on the shared limiter: per client before auth, per source after.

``RATE_LIMIT_RPS`` bounds each client address (the first untrusted hop) before any
signature work, so a flood of forged requests spends only its sender's budget.
``RATE_LIMIT_SOURCES`` (``tradingview:100,custom:50``) and ``RATE_LIMIT_DEFAULT`` bound
each source after authentication, so nobody without the source's secret can spend the
source's budget. All limits are requests per second, shared by every replica through
the key-value backend.
"""

from __future__ import annotations

from collections.abc import Mapping

from access_common.ratelimit import Limit, RateDecision, RateLimiter
from access_gateway.webhooks.errors import RateLimitExceeded
from access_gateway.webhooks.metrics import WebhookMetrics

__all__ = ["WebhookLimits"]

_SECOND = 1.0


class WebhookLimits:
    """Check the client and source budgets; raise GW-004 with Retry-After when spent."""

    def __init__(
        self,
        limiter: RateLimiter,
        metrics: WebhookMetrics,
        *,
        client_rps: int | None,
        source_rps: Mapping[str, int],
        default_source_rps: int | None,
        prefix: str,
    ) -> None:
        self._limiter = limiter
        self._metrics = metrics
        self._client = Limit(client_rps, _SECOND) if client_rps else None
        self._sources = {name: Limit(rps, _SECOND) for name, rps in source_rps.items()}
        self._default = Limit(default_source_rps, _SECOND) if default_source_rps else None
        self._prefix = prefix

    async def check_client(self, client: str) -> None:
        """Count one request from ``client`` against RATE_LIMIT_RPS."""
        if self._client is not None:
            decision = await self._limiter.hit(f"{self._prefix}:ip:{client}", self._client)
            self._enforce(decision, "client")

    async def check_source(self, source: str) -> None:
        """Count one authenticated request against the source's limit."""
        limit = self._sources.get(source, self._default)
        if limit is not None:
            decision = await self._limiter.hit(f"{self._prefix}:src:{source}", limit)
            self._enforce(decision, "source")

    def _enforce(self, decision: RateDecision, scope: str) -> None:
        if decision.allowed:
            return
        self._metrics.rate_limited.labels(scope).inc()
        raise RateLimitExceeded(
            details={"scope": scope, "limit": decision.limit, "window_sec": 1},
            headers=decision.headers(),
        )
