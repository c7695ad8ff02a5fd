"""The pooled HTTP/1.1 client on httptools, against a real uvicorn server and raw sockets."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn

from access_common._http1 import Http1Error, Http1Pool, handles
from access_common.testing import free_port

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Answers chosen by path; every answer names the client port (one per connection)."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    port = str(scope["client"][1]).encode()
    headers = [(b"x-client-port", port), (b"content-type", b"text/plain")]
    echoed = {k.decode(): v.decode() for k, v in scope["headers"]}
    if path == "/chunked":
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    status, payload = 200, port
    if path == "/close":
        headers.append((b"connection", b"close"))
    elif path == "/empty":
        status, payload = 204, b""
    elif path == "/not-modified":
        status, payload = 304, b""
    elif path == "/large":
        payload = b"x" * (1 << 20)
    elif path == "/slow":
        await asyncio.sleep(1)
    elif path == "/gzip":
        payload = gzip.compress(b"unzipped")
        headers.append((b"content-encoding", b"gzip"))
    elif path == "/echo":
        payload = repr((scope["method"], scope["query_string"], echoed, body)).encode()
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


@pytest.fixture
async def base() -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=1,
        lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _get(
    pool: Http1Pool, url: str, method: str = "GET"
) -> tuple[int, dict[bytes, bytes], bytes]:
    status, headers, body = await pool.request(method, url, {}, None, timeout=2, idempotent=True)
    return status, dict(headers), body


async def test_keep_alive_reuses_one_connection(base: str) -> None:
    pool = Http1Pool()
    answers = [await _get(pool, base + "/") for _ in range(3)]
    assert {a[2] for a in answers} == {answers[0][2]}  # one client port: one connection
    assert all(a[0] == 200 and a[1][b"content-type"] == b"text/plain" for a in answers)
    await pool.aclose()


async def test_concurrent_calls_use_several_connections_within_the_bound(base: str) -> None:
    pool = Http1Pool(max_connections=3)
    answers = await asyncio.gather(*(_get(pool, base + "/") for _ in range(12)))
    assert 1 <= len({a[2] for a in answers}) <= 3
    await pool.aclose()


async def test_chunked_body_is_joined_and_framing_headers_dropped(base: str) -> None:
    pool = Http1Pool()
    status, headers, body = await _get(pool, base + "/chunked")
    assert (status, body) == (200, b"one,two,three")
    assert b"transfer-encoding" not in headers
    assert (await _get(pool, base + "/chunked"))[2] == b"one,two,three"  # reused after chunks
    await pool.aclose()


async def test_connection_close_is_not_reused(base: str) -> None:
    pool = Http1Pool()
    first = await _get(pool, base + "/close")
    second = await _get(pool, base + "/close")
    assert first[2] != second[2]
    await pool.aclose()


async def test_connection_closed_by_the_server_while_idle_is_replaced(base: str) -> None:
    pool = Http1Pool()
    first = await _get(pool, base + "/")
    await asyncio.sleep(1.5)  # past uvicorn's keep-alive timeout of 1 s
    second = await _get(pool, base + "/")
    assert second[0] == 200
    assert first[2] != second[2]
    await pool.aclose()


async def test_no_body_answers_head_204_and_304(base: str) -> None:
    pool = Http1Pool()
    assert (await _get(pool, base + "/empty"))[0::2] == (204, b"")
    assert (await _get(pool, base + "/not-modified"))[0::2] == (304, b"")
    status, _, body = await _get(pool, base + "/large", method="HEAD")
    assert (status, body) == (200, b"")
    assert (await _get(pool, base + "/chunked"))[2] == b"one,two,three"  # pool still sound
    await pool.aclose()


async def test_large_body_and_the_bound(base: str) -> None:
    pool = Http1Pool()
    assert len((await _get(pool, base + "/large"))[2]) == 1 << 20
    await pool.aclose()
    small = Http1Pool(max_body_bytes=1000)
    with pytest.raises(Http1Error) as info:
        await _get(small, base + "/large")
    assert info.value.name == "ResponseTooLarge"
    assert (await _get(small, base + "/"))[0] == 200
    await small.aclose()


async def test_timeout_fails_the_exchange_and_drops_the_connection(base: str) -> None:
    pool = Http1Pool()
    with pytest.raises(Http1Error) as info:
        await pool.request("GET", base + "/slow", {}, None, timeout=0.1, idempotent=True)
    assert info.value.timeout is True
    assert (await _get(pool, base + "/"))[0] == 200
    await pool.aclose()


async def test_cancelled_call_leaves_the_pool_usable(base: str) -> None:
    pool = Http1Pool(max_connections=1)
    task = asyncio.create_task(_get(pool, base + "/slow"))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await _get(pool, base + "/"))[0] == 200  # the slot came back
    await pool.aclose()


async def test_request_line_headers_and_body(base: str) -> None:
    pool = Http1Pool()
    _, _, body = await pool.request(
        "POST", base + "/echo?a=1", {"x-tenant-id": "t", "content-length": "99"}, b"hi",
        timeout=2, idempotent=False,
    )  # fmt: skip
    method, query, headers, sent = eval(body)  # noqa: S307 - our own repr
    assert (method, query, sent) == ("POST", b"a=1", b"hi")
    assert headers["x-tenant-id"] == "t"
    assert headers["content-length"] == "2"  # the client frames the body itself
    assert headers["host"] == base.removeprefix("http://")
    _, _, body = await pool.request(
        "GET", base + "/echo?q=a b", {"x-user-id": "李"}, None, timeout=2, idempotent=True
    )
    _, query, headers, _ = eval(body)  # noqa: S307 - our own repr
    assert query == b"q=a%20b"
    assert headers["x-user-id"] == "李"  # sent as UTF-8 (the test app decodes UTF-8)
    with pytest.raises(ValueError, match="line break"):
        await pool.request("GET", base + "/", {"x": "a\r\nx-evil: 1"}, None, timeout=2,
                           idempotent=True)  # fmt: skip
    await pool.aclose()


async def test_gzip_answer_is_decoded(base: str) -> None:
    pool = Http1Pool()
    _, headers, body = await _get(pool, base + "/gzip")
    assert body == b"unzipped"
    assert b"content-encoding" not in headers
    await pool.aclose()


async def test_refused_connection_and_closed_pool() -> None:
    pool = Http1Pool()
    with pytest.raises(Http1Error) as info:
        await _get(pool, f"http://127.0.0.1:{free_port()}/")
    assert (info.value.name, info.value.timeout) == ("ConnectError", False)
    await pool.aclose()
    with pytest.raises(Http1Error):
        await _get(pool, f"http://127.0.0.1:{free_port()}/")


def test_handles_plain_http_only() -> None:
    assert handles("http://peer:8011/x?y=1")
    assert not handles("https://peer/x")
    assert not handles("http://user:secret@peer/x")


@contextlib.asynccontextmanager
async def _raw_server(
    answer: Callable[[int, asyncio.StreamWriter], Awaitable[bool]],
) -> AsyncIterator[str]:
    """A socket server: ``answer(n, writer)`` handles the n-th request of a connection."""
    handlers: list[asyncio.Task[None]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        n = 0
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                n += 1
                if not await answer(n, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()
        # Every handler ends (the client closed its side) before the loop does.
        await asyncio.wait_for(asyncio.gather(*handlers), 5)


async def test_body_read_until_the_server_closes() -> None:
    async def answer(n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it")
        await writer.drain()
        return False

    async with _raw_server(answer) as url:
        pool = Http1Pool()
        assert (await _get(pool, url + "/"))[0::2] == (200, b"all of it")
        await pool.aclose()


async def test_dead_pooled_connection_is_retried_once_for_idempotent_calls_only() -> None:
    ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"

    async def answer(n: int, writer: asyncio.StreamWriter) -> bool:
        if n > 1:
            return False  # the second request on a connection: closed unanswered
        writer.write(ok)
        await writer.drain()
        return True

    async with _raw_server(answer) as url:
        pool = Http1Pool()
        assert (await _get(pool, url + "/"))[2] == b"ok"
        assert (await _get(pool, url + "/"))[2] == b"ok"  # reused, dead, retried fresh
        with pytest.raises(Http1Error):
            await pool.request("POST", url + "/", {}, b"x", timeout=2, idempotent=False)
        await pool.aclose()


async def test_malformed_answer_is_a_protocol_error() -> None:
    async def answer(n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        return True

    async with _raw_server(answer) as url:
        pool = Http1Pool()
        with pytest.raises(Http1Error) as info:
            await _get(pool, url + "/")
        assert info.value.name == "RemoteProtocolError"
        await pool.aclose()
