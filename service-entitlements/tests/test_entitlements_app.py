"""Entitlements app: SQLite in the state folder by default, healthy without servers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from access_entitlements.app import create_app
from access_entitlements.settings import EntitlementsSettings


async def test_embedded_store_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ACCESS_POSTGRES_DSN", "ACCESS_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    settings = EntitlementsSettings(state_dir=tmp_path)
    assert settings.port == 8011
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://en") as client:
            health = (await client.get("/health")).json()
    assert health == health | {"status": "ok", "dependencies": {"memory": "ok", "sqlite": "ok"}}
    assert (tmp_path / "entitlements.sqlite3").exists()
