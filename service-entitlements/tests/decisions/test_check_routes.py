"""check and check-batch over HTTP: the contract, caching, revocation at once, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from access_entitlements.testing import POLICY_FILE, FakeAuth, Service, running

TRADER = {"user_id": "alice", "tenant_id": "tenant-a", "roles": ["trader"]}
ADMIN = ("root", "tenant-a", ["admin"])


@pytest.fixture
async def svc(tmp_path: Path, auth: FakeAuth) -> Any:
    async with running(tmp_path, auth, policy_file=POLICY_FILE) as service:
        yield service


async def test_dev_policy_allows_traders_and_denies_others(svc: Service) -> None:
    answer = await svc.check(**TRADER, action="read", resource="curve:NG_HH")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"allow", "ttl_seconds", "reason", "rule_id", "policy_version"}
    assert body["allow"] is True and body["reason"] == "rule_allows" and body["rule_id"]
    assert 30 <= body["ttl_seconds"] <= 120 and body["policy_version"] == 1
    topic = await svc.check(**TRADER, action="subscribe", resource="topic:signals.normalized")
    assert topic.json()["allow"] is True
    write = await svc.check(**TRADER, action="write", resource="curve:NG_HH")
    assert write.json() | {"ttl_seconds": 0} == {
        "allow": False, "ttl_seconds": 0, "reason": "no_matching_rule", "rule_id": None,
        "policy_version": 1,
    }  # fmt: skip
    other = await svc.check(
        **{**TRADER, "tenant_id": "tenant-zzz"}, action="read", resource="curve:NG_HH"
    )
    assert other.json()["allow"] is False and other.json()["reason"] == "unknown_tenant"
    nobody = await svc.check(**{**TRADER, "roles": []}, action="read", resource="curve:NG_HH")
    assert nobody.json()["allow"] is False


async def test_batch_answers_in_request_order(svc: Service) -> None:
    checks = [
        {"action": "subscribe", "resource": "topic:pricing.curve.updates.v1"},
        {"action": "write", "resource": "curve:NG_HH"},
        {"action": "read", "resource": "instrument:BRENT_M1"},
    ]
    answer = await svc.http.post("/entitlements/check-batch", json={**TRADER, "checks": checks})
    assert answer.status_code == 200
    body = answer.json()
    assert body["policy_version"] == 1
    assert [(d["action"], d["resource"], d["allow"]) for d in body["decisions"]] == [
        ("subscribe", "topic:pricing.curve.updates.v1", True),
        ("write", "curve:NG_HH", False),
        ("read", "instrument:BRENT_M1", True),
    ]


async def test_cached_decisions_are_served_from_the_local_tier(svc: Service) -> None:
    for _ in range(3):
        await svc.check(**TRADER, action="read", resource="curve:NG_HH")
    metrics = (await svc.http.get("/metrics")).text
    assert 'entitlements_cache_total{outcome="hit",tier="local"} 2.0' in metrics
    assert 'entitlements_checks_total{result="allow"} 3.0' in metrics
    assert "entitlements_rule_evaluation_seconds_count 1.0" in metrics
    assert 'entitlements_rules{tenant="tenant-a"} 15.0' in metrics


async def test_a_rule_change_retires_cached_decisions_at_once(svc: Service, auth: FakeAuth) -> None:
    first = await svc.check(**TRADER, action="read", resource="curve:NG_HH")
    assert first.json()["allow"] is True
    deny = {"subject": "user:alice", "action": "read", "resource": "curve:NG_*", "effect": "deny"}
    created = await svc.http.post("/entitlements/rules", json=deny, headers=auth.headers(*ADMIN))
    assert created.status_code == 201
    assert created.json()["policy_version"] == 2
    after = (await svc.check(**TRADER, action="read", resource="curve:NG_HH")).json()
    assert after["allow"] is False and after["reason"] == "rule_denies"
    assert after["rule_id"] == created.json()["rule"]["id"] and after["policy_version"] == 2
    # Other users of the tenant keep their access; other tenants are untouched.
    bob = await svc.check(**{**TRADER, "user_id": "bob"}, action="read", resource="curve:NG_HH")
    assert bob.json()["allow"] is True
    one = await svc.check(
        **{**TRADER, "tenant_id": "tenant-1"}, action="read", resource="curve:NG_HH"
    )
    assert one.json()["allow"] is True and one.json()["policy_version"] == 1
    metrics = (await svc.http.get("/metrics")).text
    # Three tenants seeded from the policy file, then this change.
    assert 'entitlements_policy_version_changes_total{source="local"} 4.0' in metrics


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**TRADER, "action": "delete", "resource": "curve:X"}, "UNKNOWN_ACTION"),
        ({**TRADER, "action": "*", "resource": "curve:X"}, "UNKNOWN_ACTION"),
        ({**TRADER, "action": "read", "resource": "curve:*"}, "INVALID_RESOURCE"),
        ({**TRADER, "action": "read", "resource": "NG_HH"}, "INVALID_RESOURCE"),
        ({**TRADER, "action": "read", "resource": ""}, "INVALID_RESOURCE"),
        ({**TRADER, "user_id": "", "action": "read", "resource": "curve:X"}, "INVALID_USER_ID"),
        ({**TRADER, "tenant_id": "", "action": "read", "resource": "curve:X"}, "INVALID_TENANT_ID"),
        ({**TRADER, "tenant_id": "a b", "action": "read", "resource": "c:X"}, "INVALID_TENANT_ID"),
        ({**TRADER, "roles": [""], "action": "read", "resource": "curve:X"}, "INVALID_ROLES"),
        ({**TRADER, "action": "read"}, "VALIDATION_FAILED"),
        ({**TRADER, "action": "read", "resource": "c:X", "min_policy_version": -1},
         "VALIDATION_FAILED"),
    ],
)  # fmt: skip
async def test_bad_checks_get_precise_codes(svc: Service, body: dict[str, Any], code: str) -> None:
    answer = await svc.http.post("/entitlements/check", json=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == code
    assert set(answer.json()) == {"trace_id", "code", "message", "details"}


async def test_batch_limits(svc: Service) -> None:
    many = [{"action": "read", "resource": f"curve:C{i}"} for i in range(101)]
    too_large = await svc.http.post("/entitlements/check-batch", json={**TRADER, "checks": many})
    assert too_large.status_code == 422
    assert too_large.json()["code"] == "BATCH_TOO_LARGE"
    assert too_large.json()["details"] == {"max_checks": 100, "checks": 101}
    full = await svc.http.post("/entitlements/check-batch", json={**TRADER, "checks": many[:100]})
    assert full.status_code == 200 and len(full.json()["decisions"]) == 100
    empty = await svc.http.post("/entitlements/check-batch", json={**TRADER, "checks": []})
    assert empty.json()["code"] == "BATCH_EMPTY"
    bad = [*many[:2], {"action": "read", "resource": "curve:*"}]
    invalid = await svc.http.post("/entitlements/check-batch", json={**TRADER, "checks": bad})
    assert invalid.json()["code"] == "INVALID_RESOURCE"
    not_json = await svc.http.post(
        "/entitlements/check-batch", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422 and not_json.json()["code"] == "VALIDATION_FAILED"


async def test_roles_order_and_duplicates_do_not_matter(svc: Service) -> None:
    a = await svc.check(
        **{**TRADER, "roles": ["trader", "analyst"]}, action="read", resource="curve:X"
    )
    b = await svc.check(
        **{**TRADER, "roles": ["analyst", "trader", "trader"]}, action="read", resource="curve:X"
    )
    assert a.json()["rule_id"] == b.json()["rule_id"]
    metrics = (await svc.http.get("/metrics")).text
    assert 'entitlements_cache_total{outcome="hit",tier="local"} 1.0' in metrics


async def test_one_tenants_rules_never_decide_for_another(svc: Service, auth: FakeAuth) -> None:
    everything = {"subject": "*", "action": "*", "resource": "*", "effect": "allow"}
    headers = auth.headers("root", "tenant-x", ["admin"])
    assert (await svc.http.post("/entitlements/rules", json=everything, headers=headers)).is_success
    same_user = {"user_id": "alice", "roles": ["trader"], "action": "write", "resource": "curve:X"}
    x = await svc.check(**same_user, tenant_id="tenant-x")
    assert x.json()["allow"] is True
    for other in ("tenant-a", "tenant-y"):
        answer = (await svc.check(**same_user, tenant_id=other)).json()
        assert answer["allow"] is False and answer["rule_id"] is None
    # A tenant's deny does not leak either.
    deny = {"subject": "*", "action": "*", "resource": "*", "effect": "deny"}
    y = auth.headers("root", "tenant-y", ["admin"])
    assert (await svc.http.post("/entitlements/rules", json=deny, headers=y)).is_success
    assert (await svc.check(**same_user, tenant_id="tenant-x")).json()["allow"] is True


async def test_the_hot_routes_keep_the_platform_around_them(svc: Service) -> None:
    answer = await svc.check(**TRADER, action="read", resource="curve:X")
    assert answer.headers["x-request-id"] and answer.headers["traceparent"]
    metrics = (await svc.http.get("/metrics")).text
    assert 'http_requests_total{method="POST",route="/entitlements/check",status="200"}' in metrics
    wrong = await svc.http.get("/entitlements/check")
    assert wrong.status_code == 405 and wrong.json()["code"] == "METHOD_NOT_ALLOWED"
    huge = await svc.http.post(
        "/entitlements/check",
        content=b"x" * 2_000_000,
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413 and huge.json()["code"] == "PAYLOAD_TOO_LARGE"
    schema = (await svc.http.get("/openapi.json")).json()
    assert {"/entitlements/check", "/entitlements/check-batch"} <= set(schema["paths"])
