"""The policy file: the repo's dev file, seeding only tenants without history, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from access_common.backends.sqlite_store import SqliteStore
from access_entitlements.policy.bootstrap import PolicyFileError, load_policy_file
from access_entitlements.testing import POLICY_FILE, FakeAuth, running

TOPICS = [
    "served.market.latest_prices.v1",
    "pricing.curve.updates.v1",
    "market.data.updates.v1",
    "signals.normalized",
]


def test_the_dev_policy_file() -> None:
    policy = load_policy_file(POLICY_FILE)
    assert set(policy) == {"tenant-1", "tenant-a", "tenant-dev"}
    rules = {(r.subject, r.action, r.resource) for r in policy["tenant-a"]}
    for role in ("role:analyst", "role:trader"):
        for kind in ("instrument", "curve", "price"):
            assert (role, "read", f"{kind}:*") in rules
        for topic in TOPICS:
            assert (role, "subscribe", f"topic:{topic}") in rules
    assert ("role:admin", "*", "*") in rules
    assert all(r.effect.value == "allow" for r in policy["tenant-a"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tenants: [1]", "a mapping 'tenants"),
        ("nothing: 1", "a mapping 'tenants"),
        ("tenants: {t: {a: 1}}", "must be a list"),
        ("tenants: {'a b': []}", "invalid tenant id"),
        ("tenants: {t: [{subject: '*', action: read, resource: 'curve:*'}]}", "missing effect"),
        ("tenants: {t: [{subject: '*', action: read, resource: 'c:*x', effect: allow}]}",
         "tenants.t[0]: INVALID_RESOURCE_PATTERN"),
        ("tenants: {t: [{subject: '*', action: read, resource: 'c:*', effect: allow, x: 1}]}",
         "a rule is a mapping"),
        ("tenants: {t: [", "cannot read"),
    ],
)  # fmt: skip
def test_bad_policy_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_policy_file(path)


async def test_seeding_leaves_tenants_with_history_alone(tmp_path: Path, auth: FakeAuth) -> None:
    path = tmp_path / "shared.sqlite3"
    admin = auth.headers("root", "tenant-a", ["admin"])
    async with running(tmp_path, auth, store=SqliteStore(path), policy_file=POLICY_FILE) as svc:
        rules = (await svc.http.get("/entitlements/rules?limit=100", headers=admin)).json()["items"]
        for rule in rules:
            await svc.http.delete(f"/entitlements/rules/{rule['id']}", headers=admin)
    # A restart with the same file must not bring the deleted rules back.
    async with running(tmp_path, auth, store=SqliteStore(path), policy_file=POLICY_FILE) as svc:
        after = await svc.http.get("/entitlements/rules", headers=admin)
        assert after.json()["total"] == 0
        assert after.json()["policy_version"] == 16
        check = {"user_id": "a", "tenant_id": "tenant-a", "roles": ["trader"], "action": "read"}
        denied = await svc.check(**check, resource="curve:X")
        assert denied.json()["reason"] == "no_matching_rule"
