"""HttpClient with no transport injected, against a real local HTTP server.

Plain ``http://`` URLs go over the httptools client (``access_common._http1``), others
over aiohttp: both are exercised here.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from access_common.context import TraceContext, set_request_context
from access_common.errors import DependencyUnavailable
from access_common.http import HttpClient
from access_common.testing import free_port


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[web.Request]]]:
    seen: list[web.Request] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(request)
        body = await request.read()
        return web.json_response(
            {"method": request.method, "body": body.decode(), "query": dict(request.query)},
            headers={"x-total-count": "7"},
        )

    async def who(request: web.Request) -> web.Response:
        return web.json_response({"authorization": request.headers.get("authorization")})

    async def zipped(request: web.Request) -> web.Response:
        return web.Response(
            body=gzip.compress(b'{"zipped": true}'),
            headers={"content-encoding": "gzip", "content-type": "application/json"},
        )

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/zipped", zipped)
    app.router.add_get("/who", who)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_requests_carry_ids_and_answers_read_like_httpx(
    server: tuple[str, list[web.Request]],
) -> None:
    base, seen = server
    set_request_context(TraceContext.new(), "req-7")
    client = HttpClient()
    response = await client.request(
        "POST", base + "/echo", json={"a": 1}, params=[("x", "1")], headers={"x-tenant-id": "t"}
    )
    assert response.status_code == 200
    assert response.json() == {"method": "POST", "body": '{"a":1}', "query": {"x": "1"}}
    assert response.headers["x-total-count"] == "7"
    assert seen[0].headers["x-request-id"] == "req-7"
    assert seen[0].headers["x-tenant-id"] == "t"
    assert seen[0].headers["traceparent"].startswith("00-")
    zipped = await client.get(base + "/zipped")
    assert zipped.json() == {"zipped": True}
    assert "content-encoding" not in zipped.headers
    await client.aclose()


async def test_failures_are_dependency_unavailable(server: tuple[str, list[web.Request]]) -> None:
    base, _ = server
    client = HttpClient(retries=1, backoff=0)
    with pytest.raises(DependencyUnavailable) as info:
        await client.get(f"http://127.0.0.1:{free_port()}/x")
    assert info.value.details["timeout"] is False
    with pytest.raises(DependencyUnavailable) as info:
        await client.request("GET", base + "/slow", timeout=0.1, retries=0)
    assert info.value.details["timeout"] is True
    await client.aclose()
    with pytest.raises(DependencyUnavailable):
        await client.get(base + "/echo")


async def test_answers_know_their_request(server: tuple[str, list[web.Request]]) -> None:
    base, _ = server
    client = HttpClient()
    response = await client.get(base + "/echo")
    response.raise_for_status()
    assert response.request.method == "GET"
    assert str(response.request.url) == base + "/echo"
    assert await response.aread() == response.content
    await client.aclose()


async def test_urls_the_httptools_client_does_not_handle_go_over_aiohttp(
    server: tuple[str, list[web.Request]],
) -> None:
    base, _ = server
    client = HttpClient()
    with_credentials = base.replace("http://", "http://user:pw@") + "/who"
    answer = await client.get(with_credentials)
    assert answer.json() == {"authorization": "Basic dXNlcjpwdw=="}
    assert client._session is not None  # the aiohttp path was taken
    assert (await client.get(base + "/echo")).status_code == 200
    await client.aclose()
