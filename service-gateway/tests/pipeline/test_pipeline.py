"""The pipeline end to end in process: stages, headers, tenant, identity forwarding."""

from __future__ import annotations

import asyncio
from typing import Any

from access_gateway.routing.schema import UpstreamSpec
from access_gateway.testing import bearer


async def test_cached_read_miss_then_hit(stack: Any) -> None:
    first = await stack.client.get("/api/v1/curves/NG-HH-FWD", headers=bearer("tok-alice"))
    assert first.status_code == 200, first.text
    assert first.headers["x-cache"] == "MISS"
    assert first.json()["tenant_id"] == "tenant-a"
    second = await stack.client.get("/api/v1/curves/NG-HH-FWD", headers=bearer("tok-alice"))
    assert second.headers["x-cache"] == "HIT"
    assert second.json() == first.json()
    assert stack.upstream.calls["/curves/NG-HH-FWD"] == 1
    assert stack.auth.calls == 1
    assert stack.entitlements.calls == 1
    timing = second.headers["server-timing"]
    for stage in ("ratelimit", "entitlement", "cache", "total"):
        assert stage + ";dur=" in timing
    assert 'desc="HIT"' in timing
    assert second.headers["ratelimit-limit"] == "1000"
    assert int(second.headers["ratelimit-remaining"]) == 998


async def test_identity_comes_from_the_token_only(stack: Any) -> None:
    headers = {**bearer("tok-alice"), "X-Tenant-ID": "tenant-b", "X-User-ID": "mallory",
               "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
               "X-Request-ID": "req-42", "Cookie": "session=1"}  # fmt: skip
    response = await stack.client.get("/api/v1/prices/latest", headers=headers)
    assert response.status_code == 200
    assert response.json()["tenant_id"] == "tenant-a"
    sent = stack.upstream.seen_headers[-1]
    assert sent["x-tenant-id"] == "tenant-a"
    assert sent["x-user-id"] == "alice"
    assert sent["x-request-id"] == "req-42"
    assert sent["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert "authorization" not in sent
    assert "cookie" not in sent


async def test_query_is_validated_and_normalised(stack: Any) -> None:
    url = "/api/v1/instruments"
    first = await stack.client.get(url, headers=bearer("tok-alice"))
    assert first.json()["query"] == {"page": "1", "limit": "50"}
    assert first.headers["x-total-count"] == "42"
    same = await stack.client.get(url + "?limit=50&page=1", headers=bearer("tok-alice"))
    assert same.headers["x-cache"] == "HIT"
    bad = await stack.client.get(url + "?limit=0&bogus=1", headers=bearer("tok-alice"))
    assert bad.status_code == 422
    body = bad.json()
    assert body["code"] == "VALIDATION_FAILED"
    assert {tuple(e["loc"]) for e in body["details"]["errors"]} == {
        ("query", "limit"), ("query", "bogus")
    }  # fmt: skip
    filters = await stack.client.get(
        url + "?filters=commodity:power,region:europe", headers=bearer("tok-alice")
    )
    assert filters.status_code == 200
    assert filters.json()["query"]["filters"] == "commodity:power,region:europe"


async def test_token_errors(stack: Any) -> None:
    missing = await stack.client.get("/api/v1/prices/latest")
    assert missing.status_code == 401
    assert missing.json()["code"] == "TOKEN_MISSING"
    assert missing.headers["www-authenticate"] == 'Bearer realm="access"'
    assert "server-timing" in missing.headers
    refused = await stack.client.get("/api/v1/prices/latest", headers=bearer("forged"))
    assert refused.status_code == 401
    assert refused.json()["code"] == "TOKEN_INVALID"
    no_tenant = await stack.client.get("/api/v1/prices/latest", headers=bearer("tok-notenant"))
    assert no_tenant.status_code == 403
    assert no_tenant.json()["code"] == "TENANT_MISSING"


async def test_auth_down_fails_closed_but_remembered_principals_pass(stack: Any) -> None:
    ok = await stack.client.get("/api/v1/prices/latest", headers=bearer("tok-alice"))
    assert ok.status_code == 200
    stack.auth.down = True
    still = await stack.client.get("/api/v1/curves/X-FWD", headers=bearer("tok-alice"))
    assert still.status_code == 200
    closed = await stack.client.get("/api/v1/prices/latest", headers=bearer("tok-bob"))
    assert closed.status_code == 503
    assert closed.json()["code"] == "AUTH_UNAVAILABLE"


async def test_entitlement_denied_and_unavailable(stack: Any) -> None:
    stack.entitlements.denied.add(("alice", "curve:SECRET-FWD"))
    denied = await stack.client.get("/api/v1/curves/SECRET-FWD", headers=bearer("tok-alice"))
    assert denied.status_code == 403
    body = denied.json()
    assert body["code"] == "ENTITLEMENT_DENIED"
    assert body["details"]["resource"] == "curve:SECRET-FWD"
    assert body["details"]["rule_id"] == "deny-1"
    assert stack.upstream.calls.get("/curves/SECRET-FWD") is None
    ok = await stack.client.get("/api/v1/curves/NG-HH-FWD", headers=bearer("tok-alice"))
    assert ok.status_code == 200
    stack.entitlements.down = True
    remembered = await stack.client.get("/api/v1/curves/NG-HH-FWD", headers=bearer("tok-alice"))
    assert remembered.status_code == 200
    closed = await stack.client.get("/api/v1/curves/TTF-FWD", headers=bearer("tok-alice"))
    assert closed.status_code == 503
    assert closed.json()["code"] == "ENTITLEMENTS_UNAVAILABLE"


async def test_a_resource_the_service_cannot_name_is_the_clients_error(stack: Any) -> None:
    stack.entitlements.invalid.add("curve:BAD&ID")
    response = await stack.client.get("/api/v1/curves/BAD%26ID", headers=bearer("tok-alice"))
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_RESOURCE"
    assert response.json()["details"] == {"cause": "INVALID_RESOURCE"}


async def test_bulk_checks_every_item_in_one_batch(stack: Any) -> None:
    url = "/api/v1/curves/bulk"
    body = {"curve_ids": ["A-FWD", "B-FWD", "A-FWD"]}
    ok = await stack.client.post(url, json=body, headers=bearer("tok-alice"))
    assert ok.status_code == 200
    assert stack.entitlements.calls == 1
    # A-FWD's allow is remembered for its TTL; D-FWD is asked and refused.
    stack.entitlements.denied.add(("alice", "curve:D-FWD"))
    denied = await stack.client.post(
        url, json={"curve_ids": ["A-FWD", "D-FWD"]}, headers=bearer("tok-alice")
    )
    assert denied.status_code == 403
    assert denied.json()["details"]["denied"] == ["curve:D-FWD"]
    for bad, status in ((b"{", 400), (b'{"curve_ids": []}', 422), (b'{"curve_ids": [1]}', 422)):
        response = await stack.client.post(
            url, content=bad, headers={**bearer("tok-alice"), "content-type": "application/json"}
        )
        assert response.status_code == status, bad
    too_many = {"curve_ids": [f"C{i}" for i in range(51)]}
    response = await stack.client.post(url, json=too_many, headers=bearer("tok-alice"))
    assert response.status_code == 422


async def test_routing_errors(stack: Any) -> None:
    unknown = await stack.client.get("/api/v1/nothing", headers=bearer("tok-alice"))
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "NOT_FOUND"
    wrong = await stack.client.delete("/api/v1/curves/X", headers=bearer("tok-alice"))
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET"


async def test_rate_limit_refusal(stack: Any) -> None:
    url = "/api/v1/curves/recompute"
    answers = [
        await stack.client.post(url, json={}, headers=bearer("tok-alice")) for _ in range(11)
    ]
    assert [a.status_code for a in answers[:10]] == [200] * 10
    refused = answers[10]
    assert refused.status_code == 429
    assert refused.json()["code"] == "RATE_LIMITED"
    assert refused.json()["details"]["tier"] == "heavy"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-remaining"] == "0"
    other = await stack.client.post(url, json={}, headers=bearer("tok-bob"))
    assert other.status_code == 200


async def test_upstream_errors_name_the_upstream(stack: Any) -> None:
    stack.upstream.status = 500
    failed = await stack.client.get("/api/v1/curves/A-FWD", headers=bearer("tok-alice"))
    assert failed.status_code == 502
    assert failed.json()["code"] == "UPSTREAM_ERROR"
    assert failed.json()["details"] == {"upstream": "projection", "status": 500}
    stack.upstream.status = 200
    stack.upstream.down = True
    unreachable = await stack.client.get("/api/v1/curves/B-FWD", headers=bearer("tok-alice"))
    assert unreachable.status_code == 502
    assert unreachable.json()["code"] == "UPSTREAM_UNREACHABLE"
    stack.upstream.down = False
    missing = await stack.client.get("/api/v1/curves/MISSING-FWD", headers=bearer("tok-alice"))
    assert missing.status_code == 404
    assert missing.json()["code"] == "CURVE_NOT_FOUND"
    assert missing.json()["details"]["upstream"] == "projection"


async def test_slow_upstream_times_out_and_the_breaker_opens(stack: Any) -> None:
    stack.upstream.delay = 3.0
    slow = await stack.client.post("/api/v1/curves/bulk", json={"curve_ids": ["A"]},
                                   headers=bearer("tok-alice"))  # fmt: skip
    # The bulk route allows 5 s, so it succeeds; the default 2 s routes time out.
    assert slow.status_code == 200
    stack.upstream.delay = 2.5
    timed_out = await stack.client.get("/api/v1/curves/T-FWD", headers=bearer("tok-alice"))
    assert timed_out.status_code == 504
    assert timed_out.json()["code"] == "UPSTREAM_TIMEOUT"
    assert timed_out.json()["details"]["upstream"] == "projection"


async def test_breaker_opens_after_failures(stack: Any) -> None:
    stack.upstream.status = 503
    for i in range(5):
        response = await stack.client.get(f"/api/v1/curves/F{i}", headers=bearer("tok-alice"))
        assert response.json()["code"] == "UPSTREAM_ERROR"
    calls = stack.upstream.total
    open_ = await stack.client.get("/api/v1/curves/F9", headers=bearer("tok-alice"))
    assert open_.status_code == 503
    assert open_.json()["code"] == "UPSTREAM_CIRCUIT_OPEN"
    assert int(open_.headers["retry-after"]) >= 1
    assert stack.upstream.total == calls
    health = (await stack.client.get("/health")).json()
    assert health["dependencies"]["projection"] == "degraded"


async def test_body_and_header_caps(stack: Any) -> None:
    big = b'{"curve_ids": ["' + b"x" * 2_000_000 + b'"]}'
    response = await stack.client.post(
        "/api/v1/curves/bulk",
        content=big,
        headers={**bearer("tok-alice"), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    huge = {**bearer("tok-alice"), "X-Junk": "y" * 20_000}
    response = await stack.client.get("/api/v1/prices/latest", headers=huge)
    assert response.status_code == 431
    assert response.json()["code"] == "HEADERS_TOO_LARGE"


async def test_saturated_upstream_refuses_at_once(stack: Any) -> None:
    upstream = stack.runtime.upstreams["projection"]
    upstream.reconfigure(UpstreamSpec(url="http://projection.test", max_concurrency=1, max_queue=0))
    stack.upstream.delay = 0.3
    first, second = await asyncio.gather(
        stack.client.get("/api/v1/curves/S1", headers=bearer("tok-alice")),
        stack.client.get("/api/v1/curves/S2", headers=bearer("tok-alice")),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 503]
    refused = first if first.status_code == 503 else second
    assert refused.json()["code"] == "UPSTREAM_SATURATED"
    assert refused.headers["retry-after"] == "1"


async def test_metrics_use_route_templates_and_the_cache_ratio(stack: Any) -> None:
    for _ in range(3):
        await stack.client.get("/api/v1/curves/M-FWD", headers=bearer("tok-alice"))
    text = (await stack.client.get("/metrics")).text
    assert 'route="/api/v1/curves/{curve_id}"' in text
    assert 'gateway_cache_requests_total{result="hit",route="curves.get"} 2.0' in text
    assert "gateway_cache_hit_ratio 0.6666" in text
    assert 'gateway_principal_cache_total{result="hit"} 2.0' in text


async def test_openapi_describes_the_table(stack: Any) -> None:
    doc = (await stack.client.get("/openapi.json")).json()
    operation = doc["paths"]["/api/v1/instruments"]["get"]
    assert operation["operationId"] == "instruments.list"
    names = {p["name"] for p in operation["parameters"]}
    assert names == {"page", "limit", "filters"}
    assert "X-Total-Count" in operation["responses"]["200"]["headers"]
    assert doc["paths"]["/api/v1/curves/bulk"]["post"]["requestBody"]["required"] is True
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_health_lists_every_dependency(stack: Any) -> None:
    health = (await stack.client.get("/health")).json()
    assert health["dependencies"] == {
        "memory": "ok", "auth": "down", "entitlements": "down", "projection": "ok",
        "ratelimit": "ok",
    }  # fmt: skip
    # The fakes answer only their API, not /health/live; the gateway stays ready anyway.
    assert (await stack.client.get("/health/ready")).status_code == 200
