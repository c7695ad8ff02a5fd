"""An OTLP/HTTP trace collector for tests, and checks that spans form one linked trace.

Services run as real processes with ``ACCESS_ENABLE_TRACING=true`` and
``ACCESS_OTEL_EXPORTER=<collector.url>``; their spans arrive here over OTLP/HTTP
(protobuf), exactly as they would reach an OpenTelemetry Collector. For the full path
(gateway → auth → entitlements → upstream, and a bus-delivered message continuing its
producer's trace into streaming) start those services the same way and call
:func:`assert_one_trace` with every service expected in the trace.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from access_common.testing import free_port

__all__ = ["OtlpCollector", "Span", "assert_one_trace", "otlp_collector", "tracing_env"]


@dataclass(frozen=True, slots=True)
class Span:
    """What a test needs of an exported span."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str


class OtlpCollector:
    """Spans received so far, by trace."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._spans: list[Span] = []
        self._lock = threading.Lock()

    def receive(self, body: bytes) -> None:
        """Decode one ExportTraceServiceRequest."""
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            service = attributes.get("service.name", "")
            for scope in resource_spans.scope_spans:
                spans += [
                    Span(service, s.name, s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex())
                    for s in scope.spans
                ]
        with self._lock:
            self._spans += spans

    def trace(self, trace_id: str, *, services: Iterable[str], timeout: float = 10.0) -> list[Span]:
        """The spans of ``trace_id`` once every one of ``services`` has sent one."""
        wanted = {f"254carbon-{s}" for s in services}
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = [s for s in self._spans if s.trace_id == trace_id]
            if wanted <= {s.service for s in spans}:
                return spans
            assert time.monotonic() < deadline, f"spans of {sorted(wanted)} not received: {spans}"
            time.sleep(0.1)


@contextmanager
def otlp_collector() -> Iterator[OtlpCollector]:
    """A collector listening on a free loopback port for the duration of the block."""
    port = free_port()
    collector = OtlpCollector(port)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            encoding = self.headers.get("content-encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            collector.receive(body)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        server.shutdown()
        server.server_close()


def tracing_env(collector: OtlpCollector) -> dict[str, str]:
    """Environment that makes a service export its spans to ``collector`` within 100 ms."""
    return {
        "ACCESS_ENABLE_TRACING": "true",
        "ACCESS_OTEL_EXPORTER": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


def assert_one_trace(spans: list[Span], *, root_span_id: str, services: Iterable[str]) -> None:
    """Every span is in one trace, linked to the caller's span or to another span of it.

    ``root_span_id`` is the span id of the caller's ``traceparent``; each expected
    service must have a server span whose parent is that root or a span of the trace.
    """
    assert len({s.trace_id for s in spans}) == 1
    known = {s.span_id for s in spans} | {root_span_id}
    orphans = [s for s in spans if s.parent_id not in known]
    assert not orphans, f"spans not linked into the trace: {orphans}"
    by_service = {s.service for s in spans}
    assert {f"254carbon-{s}" for s in services} <= by_service
