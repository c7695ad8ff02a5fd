"""Nothing observable is lost on the fast path: ids, one access line and RED metrics for
a request, a 404, a 413 (declared and streamed) and a 500."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from fastapi import APIRouter, FastAPI

from access_common.app import build_app
from access_common.log import ACCESS_LOGGER, AccessLog
from access_common.settings import ServiceSettings


def _app() -> FastAPI:
    router = APIRouter()

    @router.get("/items/{item_id}")
    async def read(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @router.post("/items")
    async def create(body: dict[str, str]) -> dict[str, str]:
        return body

    @router.get("/boom")
    async def boom() -> dict[str, str]:
        raise RuntimeError("internal detail")

    return build_app(
        ServiceSettings(max_body_bytes=2048), service="svc", title="S", routers=[router]
    )


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(4):
        yield b"x" * 1024


@pytest.fixture
def access_lines(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> AccessLinesReader:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    return AccessLinesReader(capsys)


class AccessLinesReader:
    """Flush an app's access log and parse what it wrote to stdout."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def read(self, app: FastAPI) -> list[dict[str, object]]:
        access_log: AccessLog = app.state.access_log
        access_log.flush()
        out = self.capsys.readouterr().out
        return [orjson.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "route"),
    [
        ("GET", "/items/7", None, 200, "/items/{item_id}"),
        ("GET", "/nope", None, 404, "__unmatched__"),
        # Refused on its Content-Length before routing: no route template yet.
        ("POST", "/items", b"x" * 4096, 413, "__unmatched__"),
        ("POST", "/items", "stream", 413, "/items"),
        ("GET", "/boom", None, 500, "/boom"),
    ],
)
async def test_ids_access_line_and_metrics(
    access_lines: AccessLinesReader,
    method: str,
    path: str,
    body: bytes | str | None,
    status: int,
    route: str,
) -> None:
    app = _app()
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        content = _chunks() if body == "stream" else body
        response = await client.request(
            method,
            path,
            content=content,
            headers={"x-request-id": "req-42", "traceparent": parent},
        )
        assert response.status_code == status
        metrics = (await client.get("/metrics")).text

    # ids: the caller's request id and trace continue, with this hop's span.
    assert response.headers["x-request-id"] == "req-42"
    traceparent = response.headers["traceparent"]
    assert traceparent.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    if status >= 400:
        assert response.json()["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"

    # one access line for the request (and one for the scrape), with the same ids.
    lines = [line for line in access_lines.read(app) if line.get("logger") == ACCESS_LOGGER]
    (line,) = [line for line in lines if line["route"] == route]
    assert line["status"] == status
    assert line["req_id"] == "req-42"
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["service"] == "svc"
    assert line["lvl"] == "INFO"
    assert str(line["msg"]).startswith(f"{method} {path} {status} ")
    assert isinstance(line["duration_ms"], float)
    assert {"ts", "trace_id", "req_id", "msg"} <= set(line)
    assert len(lines) == 2

    # RED metrics by route template and status.
    label = f'method="{method}",route="{route}",status="{status}"'
    assert f"http_requests_total{{{label}}} 1.0" in metrics
    assert (
        f'http_request_duration_seconds_count{{method="{method}",route="{route}"}} 1.0' in metrics
    )
    assert "http_requests_in_flight 1.0" in metrics  # the scrape itself


async def test_access_lines_follow_the_log_level(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.WARNING, logger=ACCESS_LOGGER)
    app = _app()
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        assert (await client.get("/items/1")).status_code == 200
    app.state.access_log.flush()
    assert capsys.readouterr().out == ""


async def test_access_line_is_redacted(
    access_lines: AccessLinesReader,
) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
    app = _app()
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        await client.get(f"/tokens/{token}")
    text = orjson.dumps(access_lines.read(app)).decode()
    assert "c2lnbmF0dXJl" not in text
    assert "[REDACTED]" in text
