"""GET /entitlements/policy-versions: the full map first, then changes after the cursor."""

from __future__ import annotations

import asyncio
from pathlib import Path

from access_entitlements.testing import POLICY_FILE, FakeAuth, running

RULE = {"subject": "*", "action": "read", "resource": "price:*", "effect": "deny"}


async def test_long_poll(tmp_path: Path, auth: FakeAuth) -> None:
    async with running(tmp_path, auth, policy_file=POLICY_FILE) as svc:
        first = (await svc.http.get("/entitlements/policy-versions")).json()
        assert first["full"] is True
        assert first["versions"] == {"tenant-1": 1, "tenant-a": 1, "tenant-dev": 1}
        cursor = first["cursor"]
        quiet = await svc.http.get(f"/entitlements/policy-versions?cursor={cursor}&wait=0.1")
        assert quiet.json() == {"cursor": cursor, "full": False, "versions": {}}

        async def change() -> None:
            await asyncio.sleep(0.1)
            headers = auth.headers("root", "tenant-dev", ["admin"])
            await svc.http.post("/entitlements/rules", json=RULE, headers=headers)

        writer = asyncio.create_task(change())
        waited = await svc.http.get(f"/entitlements/policy-versions?cursor={cursor}&wait=5")
        await writer
        assert waited.json()["versions"] == {"tenant-dev": 2} and not waited.json()["full"]
        stale = await svc.http.get("/entitlements/policy-versions?cursor=other-epoch:3")
        assert stale.json()["full"] is True and stale.json()["versions"]["tenant-dev"] == 2
        too_long = await svc.http.get("/entitlements/policy-versions?wait=26")
        assert too_long.status_code == 422
