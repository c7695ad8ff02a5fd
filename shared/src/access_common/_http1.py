"""A minimal pooled HTTP/1.1 client over ``asyncio.Protocol`` and ``httptools``.

``HttpClient`` sends plain ``http://`` calls through it: an exchange costs the event loop
about a third of aiohttp's Python work (docs/decisions/0003). It does what the
inter-service hops need and nothing more: keep-alive connections pooled per origin
under one bound, ``Content-Length``, chunked and read-until-close bodies, ``Connection:
close``, one deadline per exchange, a bounded body, ``gzip``/``deflate`` answers decoded,
and one retry on a fresh connection when a reused one turns out dead (idempotent calls
only). TLS, proxies, redirects and credentials in the URL are left to aiohttp.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from functools import lru_cache
from typing import cast
from urllib.parse import quote, urlsplit

import httptools

__all__ = ["WIRE_HEADERS", "Http1Error", "Http1Pool", "Http1Response", "handles"]

Http1Response = tuple[int, list[tuple[bytes, bytes]], bytes]

# The body is delivered whole (dechunked, decoded): these described the bytes on the wire.
WIRE_HEADERS = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})
_FRAMING_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
_DECODERS = {b"gzip": 16 + zlib.MAX_WBITS, b"deflate": zlib.MAX_WBITS}
_PATH_SAFE = "/%:@!$&'()*+,;=~-._"
_QUERY_SAFE = _PATH_SAFE + "?"
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# Set by the client itself from the body it sends and its pooling.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})


class Http1Error(Exception):
    """A transport failure of one exchange (``timeout`` when its deadline passed)."""

    def __init__(self, name: str, *, timeout: bool = False) -> None:
        super().__init__(name)
        self.name = name
        self.timeout = timeout


@lru_cache(maxsize=4096)
def _target(url: str) -> tuple[tuple[str, int], str, str] | None:
    """``((host, port), Host header, request target)`` of a plain-HTTP URL, else None."""
    parts = urlsplit(url)
    if parts.scheme != "http" or "@" in parts.netloc or not parts.hostname:
        return None
    port = parts.port or 80
    # As aiohttp (yarl) does: what is not allowed in a request target is percent-encoded,
    # escapes already there are kept.
    target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_QUERY_SAFE)
    return (parts.hostname, port), parts.netloc, target


def handles(url: str) -> bool:
    """Whether this client sends to ``url`` (plain HTTP without credentials)."""
    return _target(url) is not None


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one exchange at a time."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._waiter: asyncio.Future[Http1Response] | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._head = False
        self._received = False
        self._headers_done = False
        self._framed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        # uvloop's transports are not subclasses of asyncio's; this one is TCP.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        """A read-until-close body ends here; any other open exchange fails."""
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if self._headers_done and not self._framed and not self._head:
            self.on_message_complete()
        else:
            self._fail(Http1Error(type(exc).__name__ if exc else "RemoteProtocolError"))

    def data_received(self, data: bytes) -> None:
        """Feed the parser; a malformed answer ends the connection."""
        self._received = True
        if self._parser is None:  # nothing was asked: the server misbehaves
            self.abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(Http1Error("RemoteProtocolError"))
        except httptools.HttpParserError:
            self._fail(Http1Error("RemoteProtocolError"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        """Collect one header."""
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        """Note the framing; a HEAD answer has no body whatever it announces."""
        self._headers_done = True
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == b"content-length" or (
                lowered == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                self._framed = True
        if self._head:
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        """Collect a part of the body, within the bound."""
        self._size += len(body)
        if self._size > self.max_body:
            self._fail(Http1Error("ResponseTooLarge"))
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        """Hand the answer to the waiting exchange."""
        waiter, parser = self._waiter, self._parser
        if waiter is None or waiter.done() or parser is None:
            return
        status = parser.get_status_code()
        if self._head or not parser.should_keep_alive():
            self.closed = True
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        headers = self._headers
        encoded = [v.strip().lower() for k, v in headers if k.lower() == b"content-encoding"]
        wire = WIRE_HEADERS
        if encoded and encoded[-1] in _DECODERS:
            try:
                body = zlib.decompress(body, _DECODERS[encoded[-1]]) if body else body
            except zlib.error:
                self._fail(Http1Error("DecodingError"))
                return
        elif encoded:
            wire = _FRAMING_HEADERS  # an encoding we did not ask for: passed as it came
        headers = [(k, v) for k, v in headers if k.lower() not in wire]
        self._parser = None
        waiter.set_result((status, headers, body))

    def send(self, data: bytes, *, head: bool) -> asyncio.Future[Http1Response]:
        """Write one request; the future resolves with its answer."""
        assert self.transport is not None  # noqa: S101 - connected before use
        self._waiter = asyncio.get_running_loop().create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._headers = []
        self._body = []
        self._size = 0
        self._head = head
        self._received = False
        self._headers_done = False
        self._framed = False
        self.transport.write(data)
        return self._waiter

    @property
    def answered_nothing(self) -> bool:
        """No byte of the answer has arrived (a dead reused connection looks so)."""
        return not self._received

    def timed_out(self) -> None:
        """The exchange's deadline passed."""
        self._fail(Http1Error("ReadTimeout", timeout=True))

    def _fail(self, error: Http1Error) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        self.abort()

    def abort(self) -> None:
        """Drop the connection at once."""
        self.closed = True
        self._parser = None
        if self.transport is not None:
            self.transport.abort()


class Http1Pool:
    """Keep-alive connections per origin, at most ``max_connections`` in all."""

    def __init__(self, *, max_connections: int = 200, max_body_bytes: int = 64 << 20) -> None:
        self.max_body_bytes = max_body_bytes
        self._idle: dict[tuple[str, int], deque[_Connection]] = {}
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        timeout: float,  # noqa: ASYNC109 - the deadline of this exchange
        idempotent: bool,
    ) -> Http1Response:
        """Send one request and read its whole answer; raise :class:`Http1Error`."""
        parsed = _target(url)
        if parsed is None:
            raise ValueError(f"not a plain http:// URL: {url!r}")
        origin, host, target = parsed
        data = _encode(method, target, host, headers, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        slots = self._slots
        if slots.locked():
            try:
                async with asyncio.timeout_at(deadline):
                    await slots.acquire()
            except TimeoutError:
                raise Http1Error("PoolTimeout", timeout=True) from None
        else:
            await slots.acquire()
        try:
            conn = self._pooled(origin)
            if conn is not None:
                try:
                    return await self._exchange(conn, origin, data, method, deadline)
                except Http1Error:
                    # Closed by the server while idle: safe to send again only if idempotent.
                    if not (idempotent and conn.answered_nothing and loop.time() < deadline):
                        raise
            conn = await self._connect(origin, deadline)
            return await self._exchange(conn, origin, data, method, deadline)
        finally:
            slots.release()

    def _pooled(self, origin: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
        return None

    async def _connect(self, origin: tuple[str, int], deadline: float) -> _Connection:
        if self._closed:
            raise Http1Error("ClientClosed")
        loop = asyncio.get_running_loop()
        max_body = self.max_body_bytes
        try:
            async with asyncio.timeout_at(deadline):
                _, conn = await loop.create_connection(lambda: _Connection(max_body), *origin)
        except TimeoutError:
            raise Http1Error("ConnectTimeout", timeout=True) from None
        except OSError as exc:
            raise Http1Error("ConnectError") from exc
        return conn

    async def _exchange(
        self,
        conn: _Connection,
        origin: tuple[str, int],
        data: bytes,
        method: str,
        deadline: float,
    ) -> Http1Response:
        loop = asyncio.get_running_loop()
        timer = loop.call_at(deadline, conn.timed_out)
        try:
            answer = await conn.send(data, head=method == "HEAD")
        except BaseException:
            conn.abort()  # cancelled or failed half-way: the connection's state is unknown
            raise
        finally:
            timer.cancel()
        if conn.closed or self._closed:
            conn.abort()
        else:
            self._idle.setdefault(origin, deque()).append(conn)
        return answer

    async def aclose(self) -> None:
        """Close every idle connection; later calls fail."""
        self._closed = True
        for idle in self._idle.values():
            while idle:
                idle.pop().abort()
        self._idle.clear()


def _encode(
    method: str, target: str, host: str, headers: dict[str, str], body: bytes | None
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    if "host" not in headers and "Host" not in headers:
        lines.append(f"host: {host}\r\n")
    for name, value in headers.items():
        if name.lower() not in _FRAMING:
            lines.append(f"{name}: {value}\r\n")
    if body or method in _WITH_BODY:
        lines.append(f"content-length: {len(body) if body else 0}\r\n")
    lines.append("\r\n")
    head = "".join(lines)
    # One line per entry and no other line break: a CR or LF in a name or value (header
    # injection) would add one.
    if head.count("\n") != len(lines) or head.count("\r") != len(lines):
        raise ValueError("a request header contains a line break")
    encoded = head.encode()  # UTF-8, as aiohttp sends header values
    return encoded + body if body else encoded
