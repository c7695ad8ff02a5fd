"""The pooled HTTP client: propagation, bounded retries, failures as DependencyUnavailable."""

from __future__ import annotations

import httpx
import pytest

from access_common.context import TraceContext, set_request_context
from access_common.errors import DependencyUnavailable
from access_common.http import HttpClient


def _flaky(fail_times: int, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= fail_times:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"ok": True})

    return httpx.MockTransport(handler)


async def test_propagates_request_id_and_child_traceparent() -> None:
    seen: list[httpx.Request] = []
    trace = TraceContext.new()
    set_request_context(trace, "req-42")
    client = HttpClient(transport=_flaky(0, seen))
    await client.get("http://peer/x")
    await client.aclose()
    headers = seen[0].headers
    assert headers["x-request-id"] == "req-42"
    assert headers["traceparent"].startswith(f"00-{trace.trace_id}-")
    assert trace.span_id not in headers["traceparent"]


async def test_idempotent_calls_retry_then_succeed() -> None:
    seen: list[httpx.Request] = []
    client = HttpClient(retries=2, backoff=0, transport=_flaky(2, seen))
    response = await client.get("http://peer/x")
    assert response.status_code == 200
    assert len(seen) == 3
    await client.aclose()


async def test_post_is_not_retried_unless_declared_idempotent() -> None:
    seen: list[httpx.Request] = []
    client = HttpClient(retries=2, backoff=0, transport=_flaky(1, seen))
    with pytest.raises(DependencyUnavailable):
        await client.request("POST", "http://peer/x", json={})
    assert len(seen) == 1
    response = await client.request("POST", "http://peer/x", json={}, idempotent=True)
    assert response.status_code == 200
    await client.aclose()


async def test_exhausted_retries_raise_dependency_unavailable() -> None:
    seen: list[httpx.Request] = []
    client = HttpClient(retries=1, backoff=0, transport=_flaky(10, seen))
    with pytest.raises(DependencyUnavailable) as info:
        await client.get("http://peer:8010/x")
    assert info.value.status == 503
    assert info.value.details["host"] == "peer"
    assert len(seen) == 2
    await client.aclose()
