"""Entitlements administration with tokens verified by the real auth service (dev issuer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from access_auth.app import create_app as create_auth
from access_auth.settings import AuthSettings
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.backends.sqlite_store import SqliteStore
from access_common.clients import AuthClient
from access_common.http import HttpClient
from access_common.lifecycle import Resources
from access_entitlements.app import create_app as create_entitlements
from access_entitlements.settings import EntitlementsSettings
from access_entitlements.testing import POLICY_FILE

RULE = {"subject": "role:quant", "action": "read", "resource": "curve:*", "effect": "allow"}


@pytest.fixture
async def apps(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    auth_app = create_auth(AuthSettings(env="local", state_dir=tmp_path / "auth"))
    async with LifespanManager(auth_app) as auth_manager:
        auth_http = HttpClient(retries=0, transport=httpx.ASGITransport(auth_manager.app))
        settings = EntitlementsSettings(
            env="test", state_dir=tmp_path, entitlements_policy_file=POLICY_FILE
        )
        resources = Resources(
            http=HttpClient(retries=0),
            kv=MemoryKeyValue(),
            store=SqliteStore(tmp_path / "ent.sqlite3"),
        )
        app = create_entitlements(
            settings, resources=resources, auth=AuthClient(auth_http, "http://auth")
        )
        async with LifespanManager(app) as manager:
            ent = httpx.AsyncClient(transport=httpx.ASGITransport(manager.app), base_url="http://e")
            raw_auth = httpx.AsyncClient(
                transport=httpx.ASGITransport(auth_manager.app), base_url="http://auth"
            )
            async with ent, raw_auth:
                yield ent, raw_auth
        await auth_http.aclose()


async def bearer(raw_auth: httpx.AsyncClient, tenant: str, roles: list[str]) -> dict[str, str]:
    body = {"sub": "carol", "tenant_id": tenant, "roles": roles}
    token = (await raw_auth.post("/auth/dev/token", json=body)).json()["access_token"]
    return {"authorization": f"Bearer {token}"}


async def test_admin_tokens_from_the_auth_service(
    apps: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    ent, raw_auth = apps
    admin_a = await bearer(raw_auth, "tenant-a", ["admin"])
    created = await ent.post("/entitlements/rules", json=RULE, headers=admin_a)
    assert created.status_code == 201
    assert created.json()["rule"]["created_by"] == "carol"
    elsewhere = await ent.post(
        "/entitlements/rules", json={**RULE, "tenant_id": "tenant-1"}, headers=admin_a
    )
    assert elsewhere.status_code == 403 and elsewhere.json()["code"] == "TENANT_MISMATCH"
    trader = await bearer(raw_auth, "tenant-a", ["trader"])
    refused = await ent.get("/entitlements/audit", headers=trader)
    assert refused.status_code == 403 and refused.json()["code"] == "ADMIN_ROLE_REQUIRED"
    forged = {"authorization": admin_a["authorization"][:-6] + "AAAAAA"}
    bad = await ent.get("/entitlements/rules", headers=forged)
    assert bad.status_code == 401 and bad.json()["code"] == "TOKEN_SIGNATURE_INVALID"
    check = {"user_id": "dave", "tenant_id": "tenant-a", "roles": ["quant"], "action": "read"}
    allowed = await ent.post("/entitlements/check", json={**check, "resource": "curve:X"})
    assert allowed.json()["allow"] is True
