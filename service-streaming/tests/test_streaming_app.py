"""Streaming app: seed 003's limits, and health that names its buses."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from access_streaming.app import create_app
from access_streaming.settings import StreamingSettings


def test_seed_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_MAX_WS_CONNECTIONS", "5000")
    settings = StreamingSettings()
    assert settings.port == 8001
    assert settings.max_ws_connections == 5000
    assert settings.max_sse_connections == 500
    assert settings.heartbeat_timeout == 30


async def test_in_process_bus_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ACCESS_NATS_URL", "ACCESS_KAFKA_BOOTSTRAP"):
        monkeypatch.delenv(var, raising=False)
    app = create_app(StreamingSettings(state_dir=tmp_path))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://st") as client:
            deps = (await client.get("/health")).json()["dependencies"]
    assert deps["memory"] == "ok"
    assert "kafka" not in deps
