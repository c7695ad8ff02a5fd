"""SSE control: open a stream, subscribe or unsubscribe a connection its owner presents.

``/sse/subscribe`` and ``/sse/unsubscribe`` take form fields (``connection_id``, ``topic``,
``filters`` as a JSON object) or the same fields as a JSON body. The caller presents a
token (``Authorization: Bearer`` or ``?token=``) whose user and tenant must own the
connection; anyone else gets ``CONNECTION_NOT_FOUND``, as if it did not exist.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request

from access_common.errors import AccessError
from access_streaming.connections import Connection
from access_streaming.errors import ConnectionNotFound, FilterInvalid, MessageMalformed
from access_streaming.resume import parse_last_event_id
from access_streaming.runtime import StreamingRuntime
from access_streaming.sse.schemas import SseSubscribeResponse, SseUnsubscribeResponse
from access_streaming.sse.stream import SseStream

__all__ = ["open_stream", "subscribe", "unsubscribe"]

_MAX_FORM_BYTES = 16_384


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("token")


async def open_stream(runtime: StreamingRuntime, request: Request) -> SseStream:
    """Admit an SSE connection (same limits as WebSocket) and return its event stream."""
    client = request.client
    try:
        connection = await runtime.admit("sse", _token(request), client.host if client else "-")
    except AccessError as exc:
        runtime.metrics.refusals.labels(exc.code).inc()
        raise
    # EventSource sends the id of the last event it saw when it reconnects: that topic is
    # replayed from there when this connection subscribes to it again.
    resume = parse_last_event_id(
        request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    )
    if resume:
        connection.resume = resume
    return SseStream(runtime, connection)


async def _form(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise MessageMalformed(f"The form is larger than {_MAX_FORM_BYTES} bytes")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise MessageMalformed("The body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise MessageMalformed("The body must be a JSON object")
        return parsed
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise MessageMalformed("The form is not UTF-8") from None


async def _owned(runtime: StreamingRuntime, request: Request, form: dict[str, Any]) -> Connection:
    principal = await runtime.principals.verify(_token(request))
    connection_id = form.get("connection_id")
    if not isinstance(connection_id, str) or not connection_id:
        raise MessageMalformed("connection_id is required")
    connection = runtime.owned(connection_id, principal.sub, principal.tenant_id or "")
    if connection is None or connection.protocol != "sse":
        raise ConnectionNotFound(details={"connection_id": connection_id[:64]})
    return connection


def _rate(raw: object) -> object:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            raise MessageMalformed("max_rate is a number of messages per second") from None
    return raw


def _filters(raw: object) -> object:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise FilterInvalid("filters must be a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FilterInvalid("filters is not valid JSON") from None


async def subscribe(runtime: StreamingRuntime, request: Request) -> SseSubscribeResponse:
    """Subscribe an SSE connection to one topic; the seed's answer, or the refusal."""
    form = await _form(request)
    connection = await _owned(runtime, request, form)
    topic = form.get("topic") or runtime.registry.default
    since = (
        {topic: connection.resume[topic]}
        if connection.resume and topic in connection.resume
        else None
    )
    rate = form.get("max_rate")
    outcome = await runtime.subscriptions.subscribe(
        connection,
        [topic],
        _filters(form.get("filters")),
        since=since,
        max_rate=_rate(rate),
    )
    if outcome.errors:
        raise outcome.errors[0]
    if since and connection.resume:
        connection.resume.pop(str(topic), None)
    runtime.subscriptions.start_delivery(connection, outcome)
    filters = outcome.filter.as_dict() if outcome.filter is not None else {}
    return SseSubscribeResponse(topic=str(topic), filters=filters, connection_id=connection.id)


async def unsubscribe(runtime: StreamingRuntime, request: Request) -> SseUnsubscribeResponse:
    """Unsubscribe an SSE connection from one topic (none named: from every topic)."""
    form = await _form(request)
    connection = await _owned(runtime, request, form)
    topic = form.get("topic") or None
    left = runtime.subscriptions.unsubscribe(connection, [topic] if topic else None)
    return SseUnsubscribeResponse(topics=left, connection_id=connection.id)
