"""Wire webhook ingestion into the gateway app: its bus, service, metrics and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from access_common.backends.bus import Bus
from access_common.backends.memory_bus import MemoryBus
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.backends.nats_bus import NatsBus
from access_common.checks import ping_check
from access_common.health import HealthRegistry
from access_common.lifecycle import Resources
from access_common.ratelimit import RateLimiter
from access_gateway.webhooks.metrics import WebhookMetrics
from access_gateway.webhooks.router import webhook_router
from access_gateway.webhooks.service import WebhookService
from access_gateway.webhooks.settings import WebhookSettings

__all__ = ["install_webhooks", "make_signal_bus"]


def make_signal_bus(settings: WebhookSettings) -> Bus:
    """NATS JetStream when NATS_URL is set (publishes wait at most the buffer window).

    Without it (``local``/``test`` only; settings refuse it elsewhere) signals go to an
    in-process bus: fine for a laptop, not durable.
    """
    if settings.nats_url:
        return NatsBus(settings.nats_url, timeout=settings.webhook_buffer_wait_sec)
    return MemoryBus()


def install_webhooks(
    app: FastAPI,
    settings: WebhookSettings,
    resources: Resources,
    *,
    limiter: RateLimiter | None = None,
) -> WebhookService:
    """Add the webhook routes and their service to ``app`` (before it starts)."""
    if resources.bus is None:
        resources.bus = make_signal_bus(settings)
    if resources.kv is None:
        resources.kv = MemoryKeyValue()
    service = WebhookService(
        settings,
        kv=resources.kv,
        bus=resources.bus,
        limiter=limiter or RateLimiter(resources.kv),
        metrics=WebhookMetrics(app.state.metrics.registry),
    )
    app.state.webhooks = service
    app.include_router(webhook_router())
    _nats_not_required_for_readiness(app, resources.bus)
    return service


def _nats_not_required_for_readiness(app: FastAPI, bus: Bus) -> None:
    """Keep NATS in /health but out of /health/ready's verdict.

    The gateway also serves REST, which does not need NATS: a NATS outage must not take
    the pods out of the load balancer. Webhooks answer 503 GW-005 by themselves and
    /healthz reports ``disconnected``. Resources registers the bus as required at start,
    so the check is registered again, as optional, right after.
    """
    if not isinstance(bus, NatsBus):
        return
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            health: HealthRegistry = app.state.health
            health.add(bus.name, ping_check(bus), required=False)
            yield

    app.router.lifespan_context = lifespan
