"""Signed webhook ingestion (seed 004): signals into NATS JetStream, nothing lost."""

from access_gateway.webhooks.settings import WebhookSettings
from access_gateway.webhooks.setup import install_webhooks, make_signal_bus

__all__ = ["WebhookSettings", "install_webhooks", "make_signal_bus"]
