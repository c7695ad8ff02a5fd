"""Tracing on: server spans continue the caller's trace and the ids match the error body."""

from __future__ import annotations

import contextvars

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from access_common.app import build_app
from access_common.context import (
    TraceContext,
    outgoing_headers,
    parse_traceparent,
    set_request_context,
)
from access_common.settings import ServiceSettings
from access_common.tracing import make_tracer


async def test_server_span_is_child_of_incoming_traceparent() -> None:
    exporter = InMemorySpanExporter()
    app = build_app(ServiceSettings(), service="svc", title="Svc")
    # The middleware gets a tracer exporting in memory instead of OTLP.
    app.user_middleware[0].kwargs["tracer"] = make_tracer("svc", "1.0", "", exporter=exporter)
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as client:
        response = await client.get("/nope", headers={"traceparent": parent})
    assert response.json()["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    (span,) = exporter.get_finished_spans()
    assert f"{span.context.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert response.headers["traceparent"].split("-")[2] == f"{span.context.span_id:016x}"


def test_outgoing_calls_name_the_exported_span_as_parent() -> None:
    # In a copy of the context: the request context set here must not leak into other tests.
    contextvars.copy_context().run(_outgoing_parents)


def _outgoing_parents() -> None:
    # Tracing on: the next hop's span hangs under this process's exported server span.
    exported = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", exported=True)
    set_request_context(exported, "req-1")
    assert outgoing_headers()["traceparent"] == exported.header()
    # Tracing off: nothing is exported, each call gets a span id of its own, same trace.
    local = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    set_request_context(local, "req-2")
    sent = parse_traceparent(outgoing_headers()["traceparent"])
    assert sent is not None
    assert sent.trace_id == local.trace_id
    assert sent.span_id != local.span_id
