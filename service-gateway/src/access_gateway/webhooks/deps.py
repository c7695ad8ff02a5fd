"""FastAPI dependencies of the webhook endpoints, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from access_gateway.webhooks.service import WebhookService

__all__ = ["WebhookServiceDep"]


async def get_webhook_service(request: Request) -> WebhookService:
    """The service the app factory stored on the app."""
    service: WebhookService = request.app.state.webhooks
    return service


WebhookServiceDep = Annotated[WebhookService, Depends(get_webhook_service)]
