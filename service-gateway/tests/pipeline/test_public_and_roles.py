"""A table with a public route (IP tier, X-Forwarded-For) and a route that needs a role."""

from __future__ import annotations

from pathlib import Path

import httpx

from access_common.backends.memory_kv import MemoryKeyValue
from access_gateway.testing import (
    FakeAuth,
    FakeEntitlements,
    FakeUpstream,
    bearer,
    gateway,
    gateway_settings,
)

TABLE = """
upstreams:
  projection: {url: "${ACCESS_PROJECTION_SERVICE_URL}"}
routes:
  - {id: status, path: /api/v1/status, upstream: projection, auth: false, tier: public,
     cache: {ttl_min: 10, ttl_max: 10}}
  - {id: admin, path: /api/v1/admin, upstream: projection, roles_any: [admin]}
"""
LIMITS = """tiers:
  public: {requests: 2, window_seconds: 60, scope: ip}
  authenticated: {requests: 100, window_seconds: 60}
"""


async def test_public_tier_counts_per_client_address(tmp_path: Path) -> None:
    routes, limits = tmp_path / "routes.yaml", tmp_path / "limits.yaml"
    routes.write_text(TABLE)
    limits.write_text(LIMITS)
    auth, upstream = FakeAuth(), FakeUpstream()
    auth.add("t-trader", "alice", "tenant-a", ("trader",))
    auth.add("t-admin", "root", "tenant-a", ("admin",))
    transports = {
        "auth.test": httpx.MockTransport(auth.handler),
        "entitlements.test": httpx.MockTransport(FakeEntitlements().handler),
        "projection.test": httpx.MockTransport(upstream.handler),
    }
    settings = gateway_settings(routes_file=routes, rate_limits_file=limits, forwarded_for_hops=1)
    async with gateway(settings, transports, MemoryKeyValue()) as client:
        one = {"X-Forwarded-For": "203.0.113.9, 198.51.100.1"}
        two = {"X-Forwarded-For": "198.51.100.2"}
        answers = [await client.get("/api/v1/status", headers=one) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[1].headers["x-cache"] == "HIT"
        assert answers[0].json()["tenant_id"] is None  # no identity, no tenant upstream
        assert (await client.get("/api/v1/status", headers=two)).status_code == 200
        assert auth.calls == 0

        refused = await client.get("/api/v1/admin", headers=bearer("t-trader"))
        assert refused.status_code == 403
        assert refused.json()["code"] == "ROLE_REQUIRED"
        allowed = await client.get("/api/v1/admin", headers=bearer("t-admin"))
        assert allowed.status_code == 200
