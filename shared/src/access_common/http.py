"""The one pooled HTTP client a process uses to call other services and Keycloak.

It adds the request id and ``traceparent`` of the current request to every call,
bounds each call by a timeout, retries idempotent calls on transport errors with a
short backoff, and turns transport failures into :class:`DependencyUnavailable`.
The transport is injectable (``httpx.MockTransport`` in tests, ``ASGITransport`` to
call an app in-process).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from access_common.context import outgoing_headers
from access_common.errors import DependencyUnavailable
from access_common.settings import ServiceSettings

__all__ = ["IDEMPOTENT_METHODS", "HttpClient"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

logger = logging.getLogger("access_common.http")


class HttpClient:
    """A shared ``httpx.AsyncClient`` with propagation, timeouts and bounded retries."""

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
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), limits=limits, transport=transport
        )

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
        timeout: float | None = None,  # noqa: ASYNC109 - the per-call httpx timeout
        retries: int | None = None,
    ) -> httpx.Response:
        """Send a request; retry transport failures only when the call is idempotent.

        ``timeout`` and ``retries`` override the client's defaults for this call.
        """
        method = method.upper()
        retry = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        attempts = 1 + ((self.retries if retries is None else retries) if retry else 0)
        per_call: Any = httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(timeout)
        merged = outgoing_headers()
        if headers:
            merged.update(headers)
        last: Exception | None = None
        for attempt in range(attempts):
            try:
                return await self._client.request(
                    method,
                    url,
                    json=json,
                    content=content,
                    headers=merged,
                    params=params,
                    timeout=per_call,
                )
            except httpx.TransportError as exc:
                last = exc
                if attempt + 1 < attempts:
                    await asyncio.sleep(self.backoff * (2**attempt))
        target = httpx.URL(url)
        logger.warning(
            "call to %s failed: %s", target.host, type(last).__name__, extra={"host": target.host}
        )
        raise DependencyUnavailable(
            f"{target.host}:{target.port or ''} did not answer",
            details={
                "host": target.host,
                "error": type(last).__name__,
                "timeout": isinstance(last, httpx.TimeoutException),
            },
        )

    async def get(self, url: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET with retries."""
        return await self.request("GET", url, headers=headers)

    async def aclose(self) -> None:
        """Close the pool; idempotent."""
        await self._client.aclose()
