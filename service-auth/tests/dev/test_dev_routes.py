"""The dev issuer's routes exist in local only; elsewhere they are 404s in the error model."""

from __future__ import annotations

from typing import Any

import pytest

from access_auth.app import create_app
from access_auth.settings import AuthSettings
from access_auth.testing import MakeSettings, serve
from access_common.http import HttpClient

DEV_ROUTES = [
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/auth/dev/.well-known/openid-configuration"),
    ("GET", "/auth/dev/jwks.json"),
    ("POST", "/auth/dev/token"),
]
REQUEST = {"sub": "alice", "tenant_id": "tenant-a", "roles": ["trader"], "ttl_seconds": 300}


async def test_local_mints_tokens_that_the_service_verifies() -> None:
    async with serve(create_app(AuthSettings())) as client:
        discovery = (await client.get("/.well-known/openid-configuration")).json()
        assert discovery["issuer"] == "http://127.0.0.1:8010/auth/dev"
        assert (await client.get("/auth/dev/.well-known/openid-configuration")).json() == discovery
        jwks = (await client.get("/auth/dev/jwks.json")).json()
        assert [k["kty"] for k in jwks["keys"]] == ["EC"]
        minted = await client.post("/auth/dev/token", json=REQUEST)
        assert minted.status_code == 200
        body = minted.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 300
        verified = await client.post(
            "/auth/verify", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert verified.status_code == 200
        assert verified.json()["sub"] == "alice"
        assert verified.json()["roles"] == ["trader"]
        assert (await client.get("/health")).json()["dependencies"] == {"jwks": "ok"}


async def test_the_key_survives_a_restart() -> None:
    async with serve(create_app(AuthSettings())) as client:
        token = (await client.post("/auth/dev/token", json=REQUEST)).json()["access_token"]
    async with serve(create_app(AuthSettings())) as client:
        verified = await client.post("/auth/verify", headers={"Authorization": f"Bearer {token}"})
        assert verified.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {**REQUEST, "ttl_seconds": 0},
        {**REQUEST, "ttl_seconds": 86401},
        {**REQUEST, "ttl_seconds": "forever"},
        {**REQUEST, "sub": ""},
        {**REQUEST, "tenant_id": None},
        {**REQUEST, "roles": "trader"},
        {**REQUEST, "roles": ["has space"]},
        {**REQUEST, "is_admin": True},
        {"sub": "alice"},
        [REQUEST],
    ],
)
async def test_token_requests_are_validated(body: Any) -> None:
    async with serve(create_app(AuthSettings())) as client:
        response = await client.post("/auth/dev/token", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_FAILED"


@pytest.mark.parametrize("env", ["test", "production"])
async def test_dev_routes_do_not_exist_outside_local(
    make_settings: MakeSettings, http: HttpClient, env: str
) -> None:
    async with serve(create_app(make_settings(env=env), http=http)) as client:
        for method, path in DEV_ROUTES:
            response = await client.request(method, path, json=REQUEST)
            assert response.status_code == 404, path
            assert set(response.json()) == {"trace_id", "code", "message", "details"}
            assert response.json()["code"] == "NOT_FOUND"
        spec = (await client.get("/openapi.json")).json()
        assert not [p for p in spec["paths"] if "dev" in p or "well-known" in p]


async def test_local_with_keycloak_serves_dev_routes_but_trusts_keycloak(
    make_settings: MakeSettings, http: HttpClient
) -> None:
    async with serve(create_app(make_settings(env="local"), http=http)) as client:
        token = (await client.post("/auth/dev/token", json=REQUEST)).json()["access_token"]
        response = await client.post("/auth/verify", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["code"] == "TOKEN_KEY_UNKNOWN"
