"""The administration API: CRUD with pagination, explain, audit, who may call it, tenants apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from access_entitlements.testing import POLICY_FILE, FakeAuth, Service, running

RULE = {"subject": "role:quant", "action": "read", "resource": "curve:NG_*", "effect": "allow"}


@pytest.fixture
async def svc(tmp_path: Path, auth: FakeAuth) -> Any:
    async with running(tmp_path, auth, policy_file=POLICY_FILE) as service:
        yield service


def admin(auth: FakeAuth, tenant: str = "tenant-a", user: str = "root") -> dict[str, str]:
    return auth.headers(user, tenant, ["admin"])


async def test_create_get_update_delete(svc: Service, auth: FakeAuth) -> None:
    h = admin(auth)
    created = await svc.http.post("/entitlements/rules", json={**RULE, "note": "quants"}, headers=h)
    assert created.status_code == 201, created.text
    rule = created.json()["rule"]
    assert rule | {"id": "x", "created_at": "t", "updated_at": "t"} == {
        **RULE, "id": "x", "tenant_id": "tenant-a", "note": "quants", "created_at": "t",
        "updated_at": "t", "created_by": "root", "updated_by": "root",
    }  # fmt: skip
    got = await svc.http.get(f"/entitlements/rules/{rule['id']}", headers=h)
    assert got.json() == rule
    patched = await svc.http.patch(
        f"/entitlements/rules/{rule['id']}",
        json={"effect": "deny"},
        headers=admin(auth, user="eve"),
    )
    assert patched.status_code == 200
    assert patched.json()["rule"]["effect"] == "deny"
    assert patched.json()["rule"]["updated_by"] == "eve"
    assert patched.json()["rule"]["resource"] == "curve:NG_*"
    assert patched.json()["policy_version"] == 3
    duplicate = await svc.http.post(
        "/entitlements/rules", json={**RULE, "effect": "deny"}, headers=h
    )
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "RULE_EXISTS"
    deleted = await svc.http.delete(f"/entitlements/rules/{rule['id']}", headers=h)
    assert deleted.json() == {"id": rule["id"], "policy_version": 4}
    gone = await svc.http.get(f"/entitlements/rules/{rule['id']}", headers=h)
    assert gone.status_code == 404 and gone.json()["code"] == "RULE_NOT_FOUND"
    again = await svc.http.delete(f"/entitlements/rules/{rule['id']}", headers=h)
    assert again.json()["code"] == "RULE_NOT_FOUND"


async def test_pagination(svc: Service, auth: FakeAuth) -> None:
    h = admin(auth, tenant="tenant-dev")
    first = await svc.http.get("/entitlements/rules?page=1&limit=10", headers=h)
    assert first.headers["x-total-count"] == "15"
    body = first.json()
    assert (body["page"], body["limit"], body["total"], body["policy_version"]) == (1, 10, 15, 1)
    second = (await svc.http.get("/entitlements/rules?page=2&limit=10", headers=h)).json()
    ids = [r["id"] for r in body["items"]] + [r["id"] for r in second["items"]]
    assert len(ids) == 15 and ids == sorted(ids)
    assert (await svc.http.get("/entitlements/rules?page=3&limit=10", headers=h)).json()[
        "items"
    ] == []
    bad = await svc.http.get("/entitlements/rules?limit=0", headers=h)
    assert bad.status_code == 422 and bad.json()["code"] == "VALIDATION_FAILED"


@pytest.mark.parametrize(
    ("patch", "code"),
    [
        ({"resource": "curve:a*b"}, "INVALID_RESOURCE_PATTERN"),
        ({"resource": "curve"}, "INVALID_RESOURCE_PATTERN"),
        ({"resource": ""}, "INVALID_RESOURCE_PATTERN"),
        ({"action": "delete"}, "UNKNOWN_ACTION"),
        ({"action": ""}, "UNKNOWN_ACTION"),
        ({"subject": "group:x"}, "INVALID_SUBJECT"),
        ({"subject": "role:"}, "INVALID_SUBJECT"),
        ({"subject": ""}, "INVALID_SUBJECT"),
        ({"effect": "maybe"}, "INVALID_EFFECT"),
        ({"extra": 1}, "VALIDATION_FAILED"),
        ({"note": "x" * 501}, "VALIDATION_FAILED"),
    ],
)
async def test_bad_rules_get_precise_codes(
    svc: Service, auth: FakeAuth, patch: dict[str, Any], code: str
) -> None:
    answer = await svc.http.post("/entitlements/rules", json={**RULE, **patch}, headers=admin(auth))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code


async def test_who_may_administer(svc: Service, auth: FakeAuth) -> None:
    missing = await svc.http.get("/entitlements/rules")
    assert missing.status_code == 401 and missing.json()["code"] == "TOKEN_MISSING"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    bad = await svc.http.get("/entitlements/rules", headers={"authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["code"] == "TOKEN_MALFORMED"
    trader = auth.headers("alice", "tenant-a", ["trader"])
    not_admin = await svc.http.post("/entitlements/rules", json=RULE, headers=trader)
    assert not_admin.status_code == 403 and not_admin.json()["code"] == "ADMIN_ROLE_REQUIRED"
    no_tenant = await svc.http.get(
        "/entitlements/audit", headers=auth.headers("x", None, ["admin"])
    )
    assert no_tenant.status_code == 403 and no_tenant.json()["code"] == "TENANT_REQUIRED"
    auth.down = True
    down = await svc.http.get("/entitlements/rules", headers=admin(auth))
    assert down.status_code == 503 and down.json()["code"] == "DEPENDENCY_UNAVAILABLE"


async def test_an_admin_of_one_tenant_cannot_touch_another(svc: Service, auth: FakeAuth) -> None:
    a, one = admin(auth, "tenant-a"), admin(auth, "tenant-1")
    body = {**RULE, "tenant_id": "tenant-1"}
    other = await svc.http.post("/entitlements/rules", json=body, headers=a)
    assert other.status_code == 403 and other.json()["code"] == "TENANT_MISMATCH"
    assert other.json()["details"] == {"token_tenant": "tenant-a", "requested": "tenant-1"}
    for path in (
        "/entitlements/rules?tenant_id=tenant-1",
        "/entitlements/audit?tenant_id=tenant-1",
    ):
        refused = await svc.http.get(path, headers=a)
        assert refused.status_code == 403 and refused.json()["code"] == "TENANT_MISMATCH"
    explain = {"tenant_id": "tenant-1", "user_id": "u", "action": "read", "resource": "curve:X"}
    refused = await svc.http.post("/entitlements/explain", json=explain, headers=a)
    assert refused.json()["code"] == "TENANT_MISMATCH"
    ones = (await svc.http.get("/entitlements/rules", headers=one)).json()["items"]
    rule_id = ones[0]["id"]
    for method in ("GET", "DELETE"):
        answer = await svc.http.request(method, f"/entitlements/rules/{rule_id}", headers=a)
        assert answer.status_code == 404 and answer.json()["code"] == "RULE_NOT_FOUND"
    patch = await svc.http.patch(
        f"/entitlements/rules/{rule_id}", json={"effect": "deny"}, headers=a
    )
    assert patch.status_code == 404
    mine = (await svc.http.get("/entitlements/rules", headers=a)).json()["items"]
    assert {r["tenant_id"] for r in mine} == {"tenant-a"}
    assert not {r["id"] for r in mine} & {r["id"] for r in ones}


async def test_audit_records_who_when_before_after_per_tenant(svc: Service, auth: FakeAuth) -> None:
    h = admin(auth)
    created = (await svc.http.post("/entitlements/rules", json=RULE, headers=h)).json()["rule"]
    await svc.http.patch(f"/entitlements/rules/{created['id']}", json={"note": "n"}, headers=h)
    await svc.http.delete(f"/entitlements/rules/{created['id']}", headers=h)
    page = await svc.http.get("/entitlements/audit?limit=3", headers=h)
    assert page.headers["x-total-count"] == "4"  # the bootstrap, then three changes
    items = page.json()["items"]
    assert [(i["operation"], i["actor"], i["policy_version"]) for i in items] == [
        ("delete", "root", 4), ("update", "root", 3), ("create", "root", 2),
    ]  # fmt: skip
    assert items[0]["before"]["note"] == "n" and items[0]["after"] is None
    assert items[1]["before"]["note"] is None and items[1]["after"]["note"] == "n"
    assert items[2]["before"] is None and items[2]["after"]["resource"] == "curve:NG_*"
    last = (await svc.http.get("/entitlements/audit?page=2&limit=3", headers=h)).json()["items"]
    assert [(i["operation"], i["actor"]) for i in last] == [("bootstrap", "bootstrap")]
    other = (await svc.http.get("/entitlements/audit", headers=admin(auth, "tenant-1"))).json()
    assert [i["operation"] for i in other["items"]] == ["bootstrap"]


async def test_explain_shows_every_matching_rule(svc: Service, auth: FakeAuth) -> None:
    h = admin(auth)
    deny = {"subject": "user:alice", "action": "*", "resource": "curve:NG_HH", "effect": "deny"}
    denied = (await svc.http.post("/entitlements/rules", json=deny, headers=h)).json()["rule"]
    check = {
        "user_id": "alice",
        "roles": ["trader", "analyst"],
        "action": "read",
        "resource": "curve:NG_HH",
    }
    answer = await svc.http.post("/entitlements/explain", json=check, headers=h)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["allow"], body["reason"], body["rule_id"]) == (False, "rule_denies", denied["id"])
    assert "deny wins" in body["explanation"]
    subjects = [m["rule"]["subject"] for m in body["matched"]]
    # The two role rules have the same rank: their order is by (random) rule id.
    assert subjects[0] == "user:alice" and sorted(subjects[1:]) == ["role:analyst", "role:trader"]
    assert [m["decisive"] for m in body["matched"]] == [True, False, False]
    assert body["matched"][0]["specificity"] == [1, 11, 2, 0]
    nothing = {**check, "roles": [], "user_id": "bob"}
    none = (await svc.http.post("/entitlements/explain", json=nothing, headers=h)).json()
    assert (none["allow"], none["reason"], none["matched"]) == (False, "no_matching_rule", [])
    bad = await svc.http.post("/entitlements/explain", json={**check, "action": "x"}, headers=h)
    assert bad.json()["code"] == "UNKNOWN_ACTION"
