"""The request middleware: correlation ids, body limit, RED metrics, access log, spans.

Written as plain ASGI (not BaseHTTPMiddleware) because it wraps every request of every
service: no extra task, no body buffering. The common case is kept short on purpose
(profiled under wrk, docs/benchmarks.md): one pass over the headers, the body counted
only when no Content-Length bounds it, metric children cached per route template and
status, and the access line encoded once with orjson and written in batches.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from access_common.context import (
    TraceContext,
    new_request_id,
    parse_traceparent,
    request_ids,
    set_request_context,
)
from access_common.errors import PayloadTooLarge
from access_common.log import ACCESS_LOGGER, AccessLog
from access_common.metrics import ServiceMetrics
from access_common.responses import error_response
from access_common.tracing import remote_parent

__all__ = ["RequestContextMiddleware"]

logger = logging.getLogger(ACCESS_LOGGER)

_UNMATCHED = "__unmatched__"
# Any other method a client invents is counted as OTHER: one metric series, not one each.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _Ids:
    """What the middleware reads from a request's headers, in one pass."""

    __slots__ = ("content_length", "request_id", "traceparent")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.traceparent: str | None = None
        self.request_id: str | None = None
        self.content_length: str | None = None
        for key, value in headers:
            if key == b"traceparent":
                self.traceparent = value.decode("latin-1")
            elif key == b"x-request-id":
                self.request_id = value.decode("latin-1")
            elif key == b"content-length":
                self.content_length = value.decode("latin-1")


class RequestContextMiddleware:
    """Bind request id and trace, cap the body, record metrics and one access log line."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        max_body_bytes: int,
        access_log: AccessLog | bool = True,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        if access_log is True:
            access_log = AccessLog(metrics.service)
        self.access_log = access_log or None
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request or WebSocket connection."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ids = _Ids(scope["headers"])
        if self.tracer is None:
            trace_ctx, request_id = request_ids(ids.traceparent, ids.request_id)
            set_request_context(trace_ctx, request_id)
            await self._serve(scope, receive, send, trace_ctx, request_id, ids.content_length)
            return
        incoming = parse_traceparent(ids.traceparent)
        request_id = new_request_id(ids.request_id)
        parent = remote_parent(incoming) if incoming else None
        name = f"{scope.get('method', 'WS')} {scope['path']}"
        with self.tracer.start_as_current_span(name, context=parent) as span:
            ctx = span.get_span_context()
            trace_ctx = TraceContext(f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", exported=True)
            set_request_context(trace_ctx, request_id)
            await self._serve(scope, receive, send, trace_ctx, request_id, ids.content_length)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        trace_ctx: TraceContext,
        request_id: str,
        length: str | None,
    ) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        started = time.perf_counter()
        if length is not None and length.isdigit() and int(length) > limit:
            response = error_response(
                413,
                PayloadTooLarge.default_code,
                f"Request body exceeds {limit} bytes",
                trace_ctx.trace_id,
                {"limit_bytes": limit},
                headers={"x-request-id": request_id, "traceparent": trace_ctx.header()},
            )
            await response(scope, receive, send)
            self._finish(scope, 413, started, trace_ctx, request_id)
            return

        received = 0
        too_large = False

        async def capped_receive() -> Message:
            # Past the limit the app is told the client left; the 413 is sent below.
            # (Raising here would reach FastAPI's body parser, which turns it into a 400.)
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        status = 500
        started_response = False
        extra_headers = [
            (b"x-request-id", request_id.encode()),
            (b"traceparent", trace_ctx.header().encode()),
        ]

        async def send_with_ids(message: Message) -> None:
            nonlocal status, started_response
            if too_large and not started_response:
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message["headers"] = [*message.get("headers", ()), *extra_headers]
            await send(message)

        async def send_error(code: int, error: str, message: str, details: dict[str, Any]) -> None:
            response = error_response(code, error, message, trace_ctx.trace_id, details)
            await response(scope, receive, send_with_ids)

        # A Content-Length within the limit bounds the body already (the server reads no
        # more than it declares): only a body without one is counted as it arrives.
        app_receive = receive if length is not None else capped_receive
        in_flight = self.metrics.in_flight
        in_flight.inc()
        try:
            await self.app(scope, app_receive, send_with_ids)
        except Exception:
            # Answer here, in the error model and with the ids, rather than let the
            # exception reach the server, which would print a stack trace per request.
            if not too_large:
                logger.exception("unhandled error")
                if not started_response:
                    await send_error(500, "INTERNAL_ERROR", "Internal error", {})
        finally:
            in_flight.dec()
            if too_large and not started_response:
                too_large = False
                await send_error(
                    413,
                    PayloadTooLarge.default_code,
                    f"Request body exceeds {limit} bytes",
                    {"limit_bytes": limit},
                )
            self._finish(scope, status, started, trace_ctx, request_id)

    def _finish(
        self, scope: Scope, status: int, started: float, trace_ctx: TraceContext, request_id: str
    ) -> None:
        seconds = time.perf_counter() - started
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or _UNMATCHED
        method: str = scope["method"]
        self.metrics.observe(method if method in _METHODS else "OTHER", template, status, seconds)
        access_log = self.access_log
        if access_log is not None and access_log.enabled():
            access_log.request(
                trace_ctx.trace_id, request_id, method, scope["path"], status, seconds, template
            )
