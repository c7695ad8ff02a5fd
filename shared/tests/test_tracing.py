"""Tracing on: server spans continue the caller's trace and the ids match the error body."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from access_common.app import build_app
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
