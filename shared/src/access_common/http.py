"""The one pooled HTTP client a process uses to call other services and Keycloak.

It adds the request id and ``traceparent`` of the current request to every call,
bounds each call by a timeout, retries idempotent calls on transport errors with a
short backoff, and turns transport failures into :class:`DependencyUnavailable`.

Plain ``http://`` calls go over a small pooled HTTP/1.1 client on ``httptools``
(``access_common._http1``): it costs the event loop about a third of aiohttp's work per
exchange, the gateway's bound on an uncached read (docs/decisions/0003). Other URLs
(``https://``, credentials in the URL) go over one pooled ``aiohttp`` session, which kept
4-7x the throughput of ``httpx.AsyncClient`` under concurrency. Answers are returned as
``httpx.Response`` objects all the same, and a ``transport`` given to the constructor
(``httpx.MockTransport`` in tests, ``ASGITransport`` to call an app in-process, or an
``httpx.AsyncHTTPTransport``) routes calls through httpx instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
import orjson

from access_common._http1 import WIRE_HEADERS, Http1Error, Http1Pool, handles
from access_common.context import outgoing_headers
from access_common.errors import DependencyUnavailable
from access_common.settings import ServiceSettings

__all__ = ["IDEMPOTENT_METHODS", "HttpClient"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

logger = logging.getLogger("access_common.http")


class _Failure(Exception):
    """A transport-level failure of one attempt, whatever the library behind it."""

    def __init__(self, name: str, *, timeout: bool) -> None:
        super().__init__(name)
        self.name = name
        self.timeout = timeout


class _Answer(httpx.Response):
    """An ``httpx.Response`` built cheaply from an answer of the httptools or aiohttp path.

    Parsing a URL into ``httpx.Request`` costs more than the rest of the call's Python
    work, and callers rarely look at it: it is made only when asked for.
    """

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, method: str, url: str
    ) -> None:
        super().__init__(status, headers=headers, stream=httpx.ByteStream(body))
        self._content = body
        self._method = method
        self._url = url

    @property
    def request(self) -> httpx.Request:
        """The request this answers (built on first access)."""
        if self._request is None:
            self._request = httpx.Request(self._method, self._url)
        return self._request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value

    def raise_for_status(self) -> httpx.Response:
        """As httpx's, which reads the request without going through the property."""
        _ = self.request
        return super().raise_for_status()


class HttpClient:
    """A pooled client (httptools or aiohttp, or httpx over a transport) with retries."""

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        retries: int = 2,
        backoff: float = 0.05,
        max_connections: int = 200,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self._max_connections = max_connections
        self._httpx: httpx.AsyncClient | None = None
        if transport is not None:
            limits = httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            )
            self._httpx = httpx.AsyncClient(
                timeout=httpx.Timeout(timeout), limits=limits, transport=transport
            )
        # Made on first use: a pool belongs to the loop that runs it.
        self._session: aiohttp.ClientSession | None = None
        self._http1: Http1Pool | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> HttpClient:
        """The process's client with ``ACCESS_HTTP_TIMEOUT_SECONDS`` and ``ACCESS_HTTP_RETRIES``."""
        return cls(timeout=settings.http_timeout_seconds, retries=settings.http_retries)

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
        params: Any = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the per-call timeout of the client
        retries: int | None = None,
    ) -> httpx.Response:
        """Send a request; retry transport failures only when the call is idempotent.

        ``timeout`` and ``retries`` override the client's defaults for this call.
        """
        method = method.upper()
        retry = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        attempts = 1 + ((self.retries if retries is None else retries) if retry else 0)
        merged = outgoing_headers()
        if headers:
            merged.update(headers)
        if json is not None and content is None:
            content = orjson.dumps(json)
            merged.setdefault("content-type", "application/json")
        seconds = self.timeout if timeout is None else timeout
        last: _Failure | None = None
        for attempt in range(attempts):
            try:
                if self._httpx is not None:
                    return await self._via_httpx(method, url, content, merged, params, seconds)
                if handles(url):
                    return await self._via_http1(
                        method, url, content, merged, params, seconds, retry
                    )
                return await self._via_aiohttp(method, url, content, merged, params, seconds)
            except _Failure as exc:
                last = exc
                if attempt + 1 < attempts:
                    await asyncio.sleep(self.backoff * (2**attempt))
        target = httpx.URL(url)
        error = last.name if last is not None else "unknown"
        logger.warning("call to %s failed: %s", target.host, error, extra={"host": target.host})
        raise DependencyUnavailable(
            f"{target.host}:{target.port or ''} did not answer",
            details={
                "host": target.host,
                "error": error,
                "timeout": last is not None and last.timeout,
            },
        )

    async def _via_httpx(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        params: Any,
        seconds: float,
    ) -> httpx.Response:
        assert self._httpx is not None  # noqa: S101 - the caller checked
        try:
            return await self._httpx.request(
                method,
                url,
                content=content,
                headers=headers,
                params=params,
                timeout=httpx.Timeout(seconds),
            )
        except httpx.TransportError as exc:
            raise _Failure(
                type(exc).__name__, timeout=isinstance(exc, httpx.TimeoutException)
            ) from exc

    async def _via_http1(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        params: Any,
        seconds: float,
        idempotent: bool,
    ) -> httpx.Response:
        if self._closed:
            raise _Failure("ClientClosed", timeout=False)
        pool = self._http1
        if pool is None:
            pool = self._http1 = Http1Pool(max_connections=self._max_connections)
        if params:
            query = params if isinstance(params, str) else urlencode(params, doseq=True)
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        try:
            status, raw, body = await pool.request(
                method, url, headers, content, timeout=seconds, idempotent=idempotent
            )
        except Http1Error as exc:
            raise _Failure(exc.name, timeout=exc.timeout) from exc
        return _Answer(status, raw, body, method, url)

    def _aiohttp(self) -> aiohttp.ClientSession:
        if self._closed:
            raise _Failure("ClientClosed", timeout=False)
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, ttl_dns_cache=300, enable_cleanup_closed=True
            )
            self._session = aiohttp.ClientSession(
                connector=connector, skip_auto_headers=("User-Agent",)
            )
        return self._session

    async def _via_aiohttp(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        params: Any,
        seconds: float,
    ) -> httpx.Response:
        session = self._aiohttp()
        try:
            async with session.request(
                method,
                url,
                data=content,
                headers=headers,
                params=params,
                timeout=aiohttp.ClientTimeout(total=seconds),
                allow_redirects=False,
            ) as answer:
                body = await answer.read()
                raw = [(k, v) for k, v in answer.raw_headers if k.lower() not in WIRE_HEADERS]
                status = answer.status
        except TimeoutError as exc:
            raise _Failure("ReadTimeout", timeout=True) from exc
        except aiohttp.ClientError as exc:
            raise _Failure(type(exc).__name__, timeout=False) from exc
        return _Answer(status, raw, body, method, url)

    async def get(self, url: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET with retries."""
        return await self.request("GET", url, headers=headers)

    async def aclose(self) -> None:
        """Close the pool; idempotent."""
        self._closed = True
        if self._httpx is not None:
            await self._httpx.aclose()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._http1 is not None:
            await self._http1.aclose()
            self._http1 = None
