"""The app factory: every error in one model, ids propagated, docs and metrics served."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from pydantic import BaseModel

from access_common.app import build_app
from access_common.errors import Forbidden
from access_common.http import HttpClient
from access_common.lifecycle import Resources
from access_common.settings import ServiceSettings


class Item(BaseModel):
    name: str
    size: int


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> dict[str, str]:
        raise RuntimeError("internal detail that must not leak")

    @router.get("/denied")
    async def denied() -> dict[str, str]:
        raise Forbidden("no", code="ENTITLEMENT_DENIED", details={"resource": "curve-x"})

    @router.post("/items")
    async def create(item: Item) -> Item:
        return item

    @router.get("/items/{item_id}")
    async def read(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return router


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(max_body_bytes=2048)
    app = build_app(settings, service="svc", title="Svc", routers=[_router()])
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
        yield c


def _assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"trace_id", "code", "message", "details"}
    assert body["code"] == code
    assert len(body["trace_id"]) == 32
    return body  # type: ignore[no-any-return]


async def test_unknown_path_is_404_in_error_model(client: httpx.AsyncClient) -> None:
    _assert_error(await client.get("/nope"), 404, "NOT_FOUND")


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    _assert_error(await client.delete("/health"), 405, "METHOD_NOT_ALLOWED")


async def test_validation_error_is_422_without_echoing_input(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={"name": "eyJsecret", "size": "big"})
    body = _assert_error(response, 422, "VALIDATION_FAILED")
    assert "big" not in response.text
    assert body["details"]["errors"][0]["loc"] == ["body", "size"]  # type: ignore[index]


@pytest.mark.parametrize(
    "content", [b"{not json", b"\xff\xfe\x00", b"[1,2,3]", b"null", b'{"name": 1}']
)
async def test_garbage_bodies_are_client_errors(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(
        "/items", content=content, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"trace_id", "code", "message", "details"}


async def test_path_param_type_error_is_422(client: httpx.AsyncClient) -> None:
    _assert_error(await client.get("/items/abc"), 422, "VALIDATION_FAILED")


async def test_body_over_limit_is_413_by_header(client: httpx.AsyncClient) -> None:
    _assert_error(await client.post("/items", content=b"x" * 4096), 413, "PAYLOAD_TOO_LARGE")


async def test_body_over_limit_is_413_when_streamed(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * 1024

    response = await client.post("/items", content=chunks())
    _assert_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_unhandled_exception_is_500_without_stack_trace(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom")
    body = _assert_error(response, 500, "INTERNAL_ERROR")
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"]
    assert str(body["trace_id"]) in response.headers["traceparent"]


async def test_access_error_keeps_its_code_and_details(client: httpx.AsyncClient) -> None:
    body = _assert_error(await client.get("/denied"), 403, "ENTITLEMENT_DENIED")
    assert body["details"] == {"resource": "curve-x"}


async def test_request_id_and_traceparent_are_continued(client: httpx.AsyncClient) -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await client.get("/nope", headers={"x-request-id": "abc-123", "traceparent": parent})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert response.headers["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert not response.headers["traceparent"].endswith("00f067aa0ba902b7-01")


async def test_malformed_ids_are_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/nope", headers={"x-request-id": "bad id\twith spaces", "traceparent": "garbage"}
    )
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.json()["trace_id"]) == 32


async def test_docs_openapi_health_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert "/health" in spec["paths"]
    assert "ErrorBody" in spec["components"]["schemas"]
    health = (await client.get("/health")).json()
    assert set(health) == {
        "service",
        "status",
        "uptime_seconds",
        "dependencies",
        "version",
        "commit",
    }
    assert health["status"] == "ok"
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/health/ready")).status_code == 200
    await client.get("/items/7")
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/items/{item_id}",status="200"} 1.0' in text
    assert 'route="__unmatched__"' not in text or "/nope" not in text
    assert "http_request_duration_seconds_bucket" in text
    assert "http_requests_in_flight" in text


async def test_startup_objects_are_frozen_out_of_the_gc() -> None:
    gc.unfreeze()
    app = build_app(ServiceSettings(), service="svc", title="Svc")
    async with LifespanManager(app):
        assert gc.get_freeze_count() > 0


def test_resources_and_own_lifespan_are_exclusive() -> None:
    @asynccontextmanager
    async def own(_: object) -> AsyncIterator[None]:
        yield

    settings = ServiceSettings()
    with pytest.raises(ValueError, match="not both"):
        build_app(
            settings,
            service="svc",
            title="Svc",
            lifespan=own,
            resources=Resources(http=HttpClient.from_settings(settings)),
        )
