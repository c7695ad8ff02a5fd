"""Tracing across processes: services continue the caller's traceparent into one trace.

A REST read goes gateway → auth → entitlements → upstream (the dev projection) and a
signed webhook goes gateway → NATS → streaming's delivery to a WebSocket subscriber;
each ends up as one trace in an OTLP collector, every span linked to its caller's.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from access_common.context import parse_traceparent

from .drive import SIGNAL_TOPIC, dev_token, post_webhook, receive_marker, subscribed_socket
from .stack import ServiceProcess, running_stack, running_together
from .tracing import OtlpCollector, Span, assert_one_trace, otlp_collector, tracing_env


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


@pytest.fixture(scope="module")
def traced_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[OtlpCollector, dict[str, ServiceProcess]]]:
    """The whole stack exporting its spans to one collector."""
    with otlp_collector() as collector:
        logs = tmp_path_factory.mktemp("traced")
        with running_stack(logs, tracing_env(collector)) as stack:
            yield collector, stack.services


def _root() -> tuple[str, str, dict[str, str]]:
    trace_id, root = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, root, {"traceparent": f"00-{trace_id}-{root}-01"}


def _one(spans: list[Span], service: str, name: str) -> Span:
    found = [s for s in spans if s.service == f"254carbon-{service}" and s.name == name]
    assert len(found) == 1, (service, name, spans)
    return found[0]


def test_a_rest_read_is_one_trace_through_gateway_auth_entitlements_and_upstream(
    traced_stack: tuple[OtlpCollector, dict[str, ServiceProcess]],
) -> None:
    collector, services = traced_stack
    with httpx.Client(timeout=10) as client:
        token = dev_token(client, services["auth"].url)
        trace_id, root, headers = _root()
        # A page nobody asked for: the gateway's cache cannot answer it.
        response = client.get(
            f"{services['gateway'].url}/api/v1/instruments",
            params={"page": secrets.randbelow(90_000) + 2},
            headers={**headers, "authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    assert parse_traceparent(response.headers["traceparent"]).trace_id == trace_id  # type: ignore[union-attr]
    wanted = ["gateway", "auth", "entitlements", "dev-projection"]
    spans = collector.trace(trace_id, services=wanted)
    assert_one_trace(spans, root_span_id=root, services=wanted)
    gateway = _one(spans, "gateway", "GET /api/v1/instruments")
    assert gateway.parent_id == root
    # Each hop's server span hangs under the gateway's span (the caller's exported span).
    for service, name in (
        ("auth", "POST /auth/verify"),
        ("dev-projection", "GET /instruments"),
    ):
        assert _one(spans, service, name).parent_id == gateway.span_id
    checks = [s for s in spans if s.service == "254carbon-entitlements"]
    assert checks and all(s.parent_id == gateway.span_id for s in checks)


def test_a_webhook_continues_its_trace_into_streamings_delivery(
    traced_stack: tuple[OtlpCollector, dict[str, ServiceProcess]],
) -> None:
    collector, services = traced_stack
    marker = f"trace-{uuid.uuid4()}"
    with httpx.Client(timeout=10) as client:
        token = dev_token(client, services["auth"].url)
        with subscribed_socket(services["streaming"].url, token, [SIGNAL_TOPIC]) as socket:
            trace_id, root, headers = _root()
            accepted = post_webhook(client, services["gateway"].url, marker, headers)
            assert accepted.status_code == 202, accepted.text
            receive_marker(socket, marker)
    spans = collector.trace(trace_id, services=["gateway", "streaming"])
    assert_one_trace(spans, root_span_id=root, services=["gateway", "streaming"])
    webhook = _one(spans, "gateway", "POST /webhook/generic")
    assert webhook.parent_id == root
    delivery = _one(spans, "streaming", f"deliver {SIGNAL_TOPIC}")
    assert delivery.parent_id == webhook.span_id
