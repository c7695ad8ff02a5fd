"""Tracing across processes: services continue the caller's traceparent into one trace.

On this branch auth and entitlements exist; the gateway → auth → entitlements → upstream
trace and the bus-delivered trace into streaming use the same collector and
:func:`assert_one_trace` once those routes exist (see tracing.py).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx

from access_common.context import parse_traceparent

from .stack import running_together
from .tracing import assert_one_trace, otlp_collector, tracing_env


def test_auth_and_entitlements_continue_the_callers_trace(tmp_path: Path) -> None:
    trace_id, root = secrets.token_hex(16), secrets.token_hex(8)
    with otlp_collector() as collector:
        env = {**tracing_env(collector), "ACCESS_STATE_DIR": str(tmp_path)}
        with running_together(tmp_path, env, "auth", "entitlements") as (auth, entitlements):
            token = httpx.post(
                f"{auth.url}/auth/dev/token", json={"sub": "alice", "tenant_id": "tenant-a"}
            ).json()["access_token"]
            # What the gateway does: one child span id per call, same trace.
            calls = [
                httpx.post(f"{auth.url}/auth/verify", headers={
                    "authorization": f"Bearer {token}",
                    "traceparent": f"00-{trace_id}-{root}-01"}),
                httpx.get(f"{entitlements.url}/health/live",
                          headers={"traceparent": f"00-{trace_id}-{root}-01"}),
            ]  # fmt: skip
            for response in calls:
                assert response.status_code == 200
                answered = parse_traceparent(response.headers["traceparent"])
                assert answered is not None
                assert answered.trace_id == trace_id
            spans = collector.trace(trace_id, services=["auth", "entitlements"])
    assert_one_trace(spans, root_span_id=root, services=["auth", "entitlements"])
    verify = [s for s in spans if s.service == "254carbon-auth"]
    assert [s.name for s in verify] == ["POST /auth/verify"]
    assert verify[0].parent_id == root
    # The span id the service answered with is its own server span's.
    assert parse_traceparent(calls[0].headers["traceparent"]).span_id == verify[0].span_id  # type: ignore[union-attr]
