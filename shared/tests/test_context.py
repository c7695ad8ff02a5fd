"""request_ids: the ids of one request, minted with one read of the random source."""

from __future__ import annotations

import re

from access_common.context import TraceContext, request_ids

_HEX = re.compile(r"[0-9a-f]+")


def test_no_incoming_ids_mints_a_trace_span_and_request_id() -> None:
    trace, request_id = request_ids(None, None)
    assert len(trace.trace_id) == 32 and len(trace.span_id) == 16 and trace.flags == "01"
    assert len(request_id) == 16
    for value in (trace.trace_id, trace.span_id, request_id):
        assert _HEX.fullmatch(value)
    assert len({trace.trace_id[:16], trace.trace_id[16:], trace.span_id, request_id}) == 4
    again, other_id = request_ids(None, None)
    assert again.trace_id != trace.trace_id and other_id != request_id


def test_a_callers_trace_continues_with_a_new_span_and_its_request_id_is_kept() -> None:
    parent = TraceContext("a" * 32, "b" * 16, "00")
    trace, request_id = request_ids(parent.header(), "req-1")
    assert trace.trace_id == parent.trace_id and trace.flags == "00"
    assert trace.span_id != parent.span_id and len(trace.span_id) == 16
    assert request_id == "req-1"


def test_malformed_ids_are_replaced() -> None:
    trace, request_id = request_ids("00-zz-yy-01", "bad id with spaces")
    assert len(trace.trace_id) == 32 and _HEX.fullmatch(trace.trace_id)
    assert len(request_id) == 16 and _HEX.fullmatch(request_id)
    _, kept = request_ids(None, "x" * 129)
    assert kept != "x" * 129
