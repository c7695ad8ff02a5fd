"""Per-request correlation: request id and W3C trace context, held in contextvars."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = [
    "REQUEST_ID_HEADER",
    "TRACEPARENT_HEADER",
    "TraceContext",
    "current_request_id",
    "current_trace",
    "current_trace_id",
    "new_request_id",
    "outgoing_headers",
    "parse_traceparent",
    "request_ids",
    "set_request_context",
]

REQUEST_ID_HEADER = "x-request-id"
TRACEPARENT_HEADER = "traceparent"

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True, slots=True)
class TraceContext:
    """The trace id, this hop's span id and the sampled flags of a W3C traceparent."""

    trace_id: str
    span_id: str
    flags: str = "01"
    # True when span_id is a span this process exports (tracing on): the next hop's spans
    # are then linked to it. Otherwise each outgoing call gets a span id of its own.
    exported: bool = False

    @classmethod
    def new(cls) -> TraceContext:
        """Start a fresh trace."""
        ids = secrets.token_hex(24)  # one read of the OS's random source, not two
        return cls(ids[:32], ids[32:])

    def child(self) -> TraceContext:
        """The same trace with a new span id, for an outgoing call."""
        return TraceContext(self.trace_id, secrets.token_hex(8), self.flags)

    def outgoing(self) -> TraceContext:
        """The traceparent to send on an outgoing call or published message."""
        return self if self.exported else self.child()

    def header(self) -> str:
        """Render as a traceparent header value."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def parse_traceparent(value: str | None) -> TraceContext | None:
    """Parse a traceparent header; None when absent or malformed (a new trace starts)."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None:
        return None
    trace_id, span_id, flags = match.groups()
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceContext(trace_id, span_id, flags)


def new_request_id(candidate: str | None = None) -> str:
    """Keep a caller's well-formed request id, otherwise mint one."""
    if candidate and _REQUEST_ID.match(candidate):
        return candidate
    return secrets.token_hex(8)


def request_ids(traceparent: str | None, request_id: str | None) -> tuple[TraceContext, str]:
    """The trace of this hop (the caller's continued, or a new one) and the request id.

    The same as :func:`parse_traceparent` + :meth:`TraceContext.child` (or ``new``) +
    :func:`new_request_id`, with one read of the OS's random source for every id minted
    rather than one per id (the middleware calls this on every request).
    """
    incoming = parse_traceparent(traceparent)
    keep = request_id if request_id and _REQUEST_ID.match(request_id) else None
    wanted = (0 if keep else 8) + (8 if incoming else 24)
    random = secrets.token_hex(wanted)
    if incoming is not None:
        trace = TraceContext(incoming.trace_id, random[:16], incoming.flags)
    else:
        trace = TraceContext(random[:32], random[32:48])
    return trace, keep or random[-16:]


_trace: ContextVar[TraceContext | None] = ContextVar("access_trace", default=None)
_request_id: ContextVar[str] = ContextVar("access_request_id", default="-")


def set_request_context(trace: TraceContext, request_id: str) -> None:
    """Bind the trace and request id to the current task."""
    _trace.set(trace)
    _request_id.set(request_id)


def current_trace() -> TraceContext | None:
    """The trace bound to the current task, if any."""
    return _trace.get()


def current_trace_id() -> str:
    """The current trace id, or a fresh one outside a request (so errors always carry one)."""
    trace = _trace.get()
    if trace is None:
        trace = TraceContext.new()
        _trace.set(trace)
    return trace.trace_id


def current_request_id() -> str:
    """The current request id ('-' outside a request)."""
    return _request_id.get()


def outgoing_headers() -> dict[str, str]:
    """Headers that carry the current request and trace to another service."""
    headers = {REQUEST_ID_HEADER: _request_id.get()}
    trace = _trace.get()
    if trace is not None:
        headers[TRACEPARENT_HEADER] = trace.outgoing().header()
    return headers
