"""The auth service against a real Keycloak 26: real tokens, real claims, live key rotation.

Tokens are obtained the way clients do (password and client-credentials grants at the
token endpoint) and verified through ``POST /auth/verify`` of an auth app configured as
in a non-local deployment (env "test", Keycloak's JWKS, issuer, audience, client id).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest

from . import keycloak_admin as kc

if TYPE_CHECKING:
    from .conftest import AuthClientFactory, AuthSettingsFactory

pytestmark = [pytest.mark.keycloak, pytest.mark.timeout(180)]


async def verify(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/verify", headers={"Authorization": f"Bearer {token}"})


async def user_token(keycloak_url: str, realm: str, user: str) -> str:
    return await kc.password_token(
        keycloak_url, realm, kc.CLIENT_ID, kc.CLIENT_SECRET, user, kc.USER_PASSWORDS[user]
    )


def kid_of(token: str) -> str:
    kid = jwt.get_unverified_header(token).get("kid")
    assert isinstance(kid, str)
    return kid


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, every: float = 0.5
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        await asyncio.sleep(every)


@pytest.mark.parametrize("user", [kc.ALICE, kc.BOB, kc.CAROL])
async def test_password_grant_tokens_verify_with_realm_and_client_roles(
    auth: httpx.AsyncClient, keycloak_url: str, realm: str, user: str
) -> None:
    token = await user_token(keycloak_url, realm, user)
    response = await verify(auth, token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    claims = body["claims"]
    assert body["sub"] == claims["sub"] and body["sub"]
    assert claims["preferred_username"] == user
    assert body["tenant_id"] == kc.USER_TENANTS[user]
    assert body["iss"] == kc.issuer(keycloak_url, realm)
    assert body["azp"] == kc.CLIENT_ID
    assert kc.AUDIENCE in (claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]])
    roles = set(body["roles"])
    assert kc.USER_REALM_ROLES[user] <= roles
    assert kc.USER_CLIENT_ROLES[user] <= roles
    # Only this client's roles are merged: another user's roles never leak in.
    assert not (set(kc.CLIENT_ROLES) - kc.USER_CLIENT_ROLES[user]) & roles
    assert not (set(kc.REALM_ROLES) - kc.USER_REALM_ROLES[user]) & roles
    assert body["exp"] == claims["exp"] > time.time()
    ws = await auth.post("/auth/verify-ws", json={"token": token})
    assert ws.status_code == 200
    assert ws.json()["sub"] == body["sub"]


async def test_service_account_token_and_the_tenant_rule(
    auth: httpx.AsyncClient,
    auth_settings: AuthSettingsFactory,
    auth_client: AuthClientFactory,
    keycloak_url: str,
    realm: str,
) -> None:
    token = await kc.client_credentials_token(keycloak_url, realm, kc.CLIENT_ID, kc.CLIENT_SECRET)
    # The service account has no tenant: refused while a tenant is required (the default)...
    response = await verify(auth, token)
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_CLAIMS_INVALID"
    assert response.json()["details"] == {"claim": "tenant_id"}
    # ...accepted, tenantless, when the deployment allows it.
    async with auth_client(auth_settings(jwt_tenant_required=False)) as lenient:
        response = await verify(lenient, token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tenant_id"] is None
    assert set(body["roles"]) >= kc.SERVICE_ACCOUNT_CLIENT_ROLES
    assert body["azp"] == kc.CLIENT_ID


async def test_other_audience_and_other_realm_are_refused(
    auth: httpx.AsyncClient,
    auth_settings: AuthSettingsFactory,
    auth_client: AuthClientFactory,
    keycloak_url: str,
    realm: str,
) -> None:
    alice = await user_token(keycloak_url, realm, kc.ALICE)
    # The same Keycloak and realm, but a deployment expecting another audience and client.
    other_api = auth_settings(jwt_audience=["other-api"], jwt_client_id="other-client")
    async with auth_client(other_api) as client:
        response = await verify(client, alice)
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_AUDIENCE_INVALID"
    # A token of another realm (master) of the same Keycloak: its keys are not ours...
    master = await kc.admin_token(keycloak_url)
    response = await verify(auth, master)
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_KEY_UNKNOWN"
    # ...and even with that realm's keys trusted, its issuer is not the configured one.
    master_keys = auth_settings(
        jwks_url=kc.jwks_uri(keycloak_url, kc.ADMIN_REALM), jwt_audience=["account"]
    )
    async with auth_client(master_keys) as client:
        response = await verify(client, master)
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_ISSUER_INVALID"


async def test_id_and_refresh_tokens_are_not_access_tokens(
    auth: httpx.AsyncClient, keycloak_url: str, realm: str
) -> None:
    async with httpx.AsyncClient(timeout=15) as http:
        response = await http.post(
            kc.token_endpoint(keycloak_url, realm),
            data={
                "grant_type": "password",
                "client_id": kc.CLIENT_ID,
                "client_secret": kc.CLIENT_SECRET,
                "username": kc.ALICE,
                "password": kc.ALICE_PASSWORD,
                "scope": "openid",
            },
        )
    assert response.status_code == 200, response.text
    tokens = response.json()
    id_token = await verify(auth, tokens["id_token"])
    assert id_token.status_code == 401
    assert id_token.json()["code"] == "TOKEN_CLAIMS_INVALID"
    assert id_token.json()["details"] == {"claim": "typ"}
    refresh = await verify(auth, tokens["refresh_token"])
    assert refresh.status_code == 401
    assert refresh.json()["code"] == "TOKEN_ALGORITHM_NOT_ALLOWED"  # HS512 realm secret
    assert (await verify(auth, tokens["access_token"])).status_code == 200


async def test_key_rotation_without_restart(
    auth_settings: AuthSettingsFactory,
    auth_client: AuthClientFactory,
    keycloak_url: str,
    realm: str,
) -> None:
    # A short TTL so that the removal of a key is noticed within seconds (the production
    # default is an hour; an unknown kid is fetched early regardless of the TTL).
    settings = auth_settings(jwks_cache_ttl_seconds=3, jwks_min_refresh_interval_seconds=1)
    async with auth_client(settings) as auth:
        old_token = await user_token(keycloak_url, realm, kc.ALICE)
        old_kid = kid_of(old_token)
        assert (await verify(auth, old_token)).status_code == 200

        priority = await kc.next_rsa_priority(keycloak_url, realm)
        new_kid = await kc.rotate_rsa_key(keycloak_url, realm, priority)
        assert new_kid != old_kid
        new_token = await user_token(keycloak_url, realm, kc.ALICE)
        assert kid_of(new_token) == new_kid

        # The new kid is unknown to the cache: one early refresh picks it up (after the
        # min refresh interval), with no restart.
        async def new_verifies() -> bool:
            return (await verify(auth, new_token)).status_code == 200

        await eventually(new_verifies, timeout=15)
        # The old key is still published: old tokens keep verifying.
        assert (await verify(auth, old_token)).status_code == 200
        assert old_kid in await kc.list_signing_kids(keycloak_url, realm)

        await kc.remove_key_provider_for_kid(keycloak_url, realm, old_kid)
        assert old_kid not in await kc.list_signing_kids(keycloak_url, realm)

        async def old_is_refused() -> bool:
            response = await verify(auth, old_token)
            if response.status_code == 200:
                return False
            assert response.status_code == 401
            assert response.json()["code"] == "TOKEN_KEY_UNKNOWN"
            return True

        await eventually(old_is_refused, timeout=20)
        assert (await verify(auth, new_token)).status_code == 200
        health = (await auth.get("/health")).json()
        assert health["dependencies"] == {"jwks": "ok"}
        metrics = (await auth.get("/metrics")).text
        assert 'auth_verifications_total{result="TOKEN_KEY_UNKNOWN"}' in metrics
