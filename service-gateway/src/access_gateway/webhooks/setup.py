"""Wire webhook ingestion into the gateway app: its bus, service, metrics and routes."""

from __future__ import annotations

from fastapi import FastAPI

from access_common.backends.bus import Bus
from access_common.backends.memory_bus import MemoryBus
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.backends.nats_bus import NatsBus
from access_common.lifecycle import Resources
from access_common.ratelimit import RateLimiter
from access_gateway.identity.client_ip import ClientIpRule
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
    client_ip: ClientIpRule | None = None,
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
        client_ip=client_ip,
    )
    app.state.webhooks = service
    app.include_router(webhook_router(service))
    return service
