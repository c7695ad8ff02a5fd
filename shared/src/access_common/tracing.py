"""OpenTelemetry tracing, on when ``ACCESS_ENABLE_TRACING`` is true: OTLP/HTTP export.

Off (the default) nothing is imported beyond the API and no span is made, so the hot
path pays nothing. On, each request gets a server span whose parent is the caller's
``traceparent``, and the ids in logs and error bodies are that span's.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from access_common.context import TraceContext

__all__ = ["make_tracer", "remote_parent"]


def make_tracer(
    service: str, version: str, endpoint: str, exporter: SpanExporter | None = None
) -> trace.Tracer:
    """A tracer whose spans go to the OTLP/HTTP collector at ``endpoint``.

    An explicit ``exporter`` (tests) gets a synchronous processor so spans are there at once.
    """
    resource = Resource.create({"service.name": f"254carbon-{service}", "service.version": version})
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        otlp = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(otlp))
    return provider.get_tracer("access_common")


def remote_parent(parent: TraceContext) -> otel_context.Context:
    """An OTel context whose current span is the caller's, from its traceparent."""
    span_context = SpanContext(
        trace_id=int(parent.trace_id, 16),
        span_id=int(parent.span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(int(parent.flags, 16)),
    )
    return trace.set_span_in_context(NonRecordingSpan(span_context))
