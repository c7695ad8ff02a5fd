"""Gateway reads decided by the real entitlements service (repo policy file, SQLite)."""

from __future__ import annotations

from pathlib import Path

import httpx

from access_common.backends.memory_kv import MemoryKeyValue
from access_entitlements.testing import POLICY_FILE, FakeAuth, running
from access_gateway.testing import bearer, gateway, gateway_settings

from .conftest import Peers


async def test_instruments_allowed_for_dev_tenant_refused_for_another(
    peers: Peers, unique: str, tmp_path: Path
) -> None:
    async with running(tmp_path / "ent", FakeAuth(), policy_file=POLICY_FILE) as entitlements:
        transports = {
            **peers.transports(),
            "entitlements.test": httpx.ASGITransport(entitlements.app),
        }
        async with gateway(gateway_settings(), transports, MemoryKeyValue()) as client:
            trader = await peers.token(f"alice-{unique}", "tenant-a")
            allowed = await client.get("/api/v1/instruments", headers=bearer(trader))
            assert allowed.status_code == 200, allowed.text
            stranger = await peers.token(f"mallory-{unique}", f"tenant-{unique}")
            refused = await client.get("/api/v1/instruments", headers=bearer(stranger))
            assert refused.status_code == 403, refused.text
            assert set(refused.json()) == {"trace_id", "code", "message", "details"}
            follower = client.app.state.gateway.entitlements  # type: ignore[attr-defined]
            assert follower.following  # the policy-version feed of the real service is live
