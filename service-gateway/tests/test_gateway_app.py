"""Gateway app: its port, and health that names its cache and peers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from access_gateway.app import create_app
from access_gateway.settings import GatewaySettings


def test_defaults() -> None:
    settings = GatewaySettings()
    assert settings.port == 8000
    assert settings.auth_service_url.endswith(":8010")


async def test_health_lists_cache_and_peers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACCESS_REDIS_URL", raising=False)
    settings = GatewaySettings(
        state_dir=tmp_path,
        auth_service_url="http://127.0.0.1:9",
        entitlements_service_url="http://127.0.0.1:9",
        projection_service_url="http://127.0.0.1:9",
    )
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            health = (await client.get("/health")).json()
    assert health["dependencies"] == {
        "memory": "ok",
        "auth": "down",
        "entitlements": "down",
        "projection": "down",
        "ratelimit": "ok",
    }
    assert health["status"] == "degraded"
