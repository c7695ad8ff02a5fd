"""Every service answers /health, /metrics, /openapi.json and /docs; unknown paths are 404s."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

SERVICES = ["gateway", "streaming", "auth", "entitlements", "metrics"]


@pytest.fixture(params=SERVICES)
async def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    name = request.param
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("ACCESS_STATE_DIR", str(tmp_path_factory.mktemp(name)))
    for var in (
        "ACCESS_REDIS_URL",
        "ACCESS_POSTGRES_DSN",
        "ACCESS_NATS_URL",
        "ACCESS_KAFKA_BOOTSTRAP",
    ):
        monkeypatch.delenv(var, raising=False)
    # Peers point at a closed port: their checks report down without failing the service.
    for var in ("AUTH", "ENTITLEMENTS", "METRICS"):
        monkeypatch.setenv(f"ACCESS_{var}_SERVICE_URL", "http://127.0.0.1:9")
    module = importlib.import_module(f"access_{name}.app")
    app = module.create_app()
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as c:
            c.headers["x-service"] = name
            yield c
    monkeypatch.undo()


async def test_health_has_the_seed_shape(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    assert body["service"] == client.headers["x-service"]
    assert body["status"] in {"ok", "degraded"}
    assert isinstance(body["uptime_seconds"], int)
    assert isinstance(body["dependencies"], dict)
    assert body["version"]
    assert body["commit"]
    assert (await client.get("/health/live")).status_code == 200


async def test_metrics_openapi_docs(client: httpx.AsyncClient) -> None:
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "http_requests_total" in metrics.text
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"].startswith("254Carbon")
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_unknown_path_is_404_in_error_model(client: httpx.AsyncClient) -> None:
    response = await client.get("/definitely/not/here")
    assert response.status_code == 404
    assert set(response.json()) == {"trace_id", "code", "message", "details"}
    assert response.json()["code"] == "NOT_FOUND"
