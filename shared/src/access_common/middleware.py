"""The request middleware: correlation ids, body limit, RED metrics, access log, spans.

Written as plain ASGI (not BaseHTTPMiddleware) because it wraps every request of every
service: no extra task, no body buffering.
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
    set_request_context,
)
from access_common.errors import PayloadTooLarge
from access_common.metrics import ServiceMetrics
from access_common.responses import error_response
from access_common.tracing import remote_parent

__all__ = ["RequestContextMiddleware"]

logger = logging.getLogger("access.request")

_UNMATCHED = "__unmatched__"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
                return None
    return None


class RequestContextMiddleware:
    """Bind request id and trace, cap the body, record metrics and one access log line."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        max_body_bytes: int,
        access_log: bool = True,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request or WebSocket connection."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = parse_traceparent(_header(scope, b"traceparent"))
        request_id = new_request_id(_header(scope, b"x-request-id"))
        if self.tracer is None:
            trace_ctx = incoming.child() if incoming else TraceContext.new()
            set_request_context(trace_ctx, request_id)
            await self._serve(scope, receive, send, trace_ctx, request_id)
            return
        parent = remote_parent(incoming) if incoming else None
        name = f"{scope.get('method', 'WS')} {scope['path']}"
        with self.tracer.start_as_current_span(name, context=parent) as span:
            ctx = span.get_span_context()
            trace_ctx = TraceContext(f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
            set_request_context(trace_ctx, request_id)
            await self._serve(scope, receive, send, trace_ctx, request_id)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, trace_ctx: TraceContext, request_id: str
    ) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            response = error_response(
                413,
                PayloadTooLarge.default_code,
                f"Request body exceeds {self.max_body_bytes} bytes",
                trace_ctx.trace_id,
                {"limit_bytes": self.max_body_bytes},
            )
            await response(scope, receive, send)
            self._finish(scope, method, 413, 0.0)
            return

        received = 0
        limit = self.max_body_bytes
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
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        async def send_error(code: int, error: str, message: str, details: dict[str, Any]) -> None:
            response = error_response(code, error, message, trace_ctx.trace_id, details)
            await response(scope, receive, send_with_ids)

        self.metrics.in_flight.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, capped_receive, send_with_ids)
        except Exception:
            # Answer here, in the error model and with the ids, rather than let the
            # exception reach the server, which would print a stack trace per request.
            if not too_large:
                logger.exception("unhandled error")
                if not started_response:
                    await send_error(500, "INTERNAL_ERROR", "Internal error", {})
        finally:
            self.metrics.in_flight.dec()
            if too_large and not started_response:
                too_large = False
                await send_error(
                    413,
                    PayloadTooLarge.default_code,
                    f"Request body exceeds {limit} bytes",
                    {"limit_bytes": limit},
                )
            self._finish(scope, method, status, time.perf_counter() - started)

    def _finish(self, scope: Scope, method: str, status: int, seconds: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or _UNMATCHED
        self.metrics.observe(method, template, status, seconds)
        if self.access_log:
            logger.info(
                "%s %s %d %.1fms",
                method,
                scope["path"],
                status,
                seconds * 1000,
                extra={
                    "route": template,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )
