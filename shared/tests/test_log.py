"""JSON logs: one object a line, correlation ids, and no secret ever written."""

from __future__ import annotations

import json
import logging

import orjson
import pytest

from access_common.context import TraceContext, set_request_context
from access_common.log import AccessLog, JsonFormatter, redact, redact_text

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


def test_access_line_of_a_request_redacts_path_and_invented_method(
    capsys: pytest.CaptureFixture[str],
) -> None:
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    log = AccessLog("svc")
    log.request("t" * 32, "r1", "GET", f"/ws/{jwt_like}", 200, 0.0012345, "/ws/{token}")
    log.request("t" * 32, "r2", jwt_like, "/x", 405, 0.001, "__unmatched__")
    log.flush()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["msg"] == "GET /ws/[REDACTED] 200 1.2ms"
    assert lines[0] | {"ts": None} == {
        "ts": None,
        "lvl": "INFO",
        "service": "svc",
        "trace_id": "t" * 32,
        "req_id": "r1",
        "logger": "access.request",
        "msg": "GET /ws/[REDACTED] 200 1.2ms",
        "route": "/ws/{token}",
        "status": 200,
        "duration_ms": 1.234,
    }
    assert lines[1]["msg"] == "[REDACTED] /x 405 1.0ms"
    assert jwt_like not in json.dumps(lines)
