"""Metrics service app: port and an empty, healthy dependency list."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from access_metrics.app import create_app
from access_metrics.settings import MetricsSettings


async def test_healthy_without_dependencies() -> None:
    settings = MetricsSettings()
    assert settings.port == 8012
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
            health = (await client.get("/health")).json()
            metrics = (await client.get("/metrics")).text
    assert health["status"] == "ok"
    assert health["dependencies"] == {}
    assert 'service_info{service="metrics",version="0.1.0"} 1.0' in metrics
