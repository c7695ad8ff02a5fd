"""JSON logs: one object a line, correlation ids, and no secret ever written."""

from __future__ import annotations

import logging

import orjson

from access_common.context import TraceContext, set_request_context
from access_common.log import JsonFormatter, redact, redact_text

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"


def _format(msg: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return orjson.loads(JsonFormatter("gateway").format(record))  # type: ignore[no-any-return]


def test_line_has_seed_fields_and_ids() -> None:
    trace = TraceContext.new()
    set_request_context(trace, "req-1")
    entry = _format("GET %s %d", "/x", 200)
    assert entry["service"] == "gateway"
    assert entry["trace_id"] == trace.trace_id
    assert entry["req_id"] == "req-1"
    assert entry["msg"] == "GET /x 200"
    assert entry["lvl"] == "INFO"
    assert "ts" in entry


def test_tokens_and_secrets_are_redacted_everywhere() -> None:
    entry = _format(
        "auth header Bearer %s and url ?token=%s",
        TOKEN,
        "abc123",
        password="hunter2",
        headers={"Authorization": f"Bearer {TOKEN}", "accept": "json"},
        note=f"got {TOKEN}",
    )
    text = orjson.dumps(entry).decode()
    assert "c2lnbmF0dXJl" not in text
    assert "hunter2" not in text
    assert "abc123" not in text
    assert entry["headers"] == {"Authorization": "[REDACTED]", "accept": "json"}


def test_redact_helpers() -> None:
    assert redact_text(f"x {TOKEN} y") == "x [REDACTED] y"
    assert redact({"api_key": "k", "n": [TOKEN]}) == {"api_key": "[REDACTED]", "n": ["[REDACTED]"]}
