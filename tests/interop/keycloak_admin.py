"""Token and admin-REST helpers for the loopback Keycloak started by scripts/keycloak.sh."""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_BASE_URL = "http://127.0.0.1:8180"
"""Where scripts/keycloak.sh serves Keycloak (also $ACCESS_TEST_KEYCLOAK_URL)."""

REALM = "access"
CLIENT_ID = "access-gateway"
CLIENT_SECRET = "access-gateway-secret"
AUDIENCE = "access-api"
"""Custom audience the client's audience mapper adds to every access token."""

ADMIN_REALM = "master"
ADMIN_CLIENT_ID = "admin-cli"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"

REALM_ROLES = ("trader", "analyst", "admin")
CLIENT_ROLES = ("curves:read", "curves:write")

ALICE = "alice"
ALICE_PASSWORD = "alice-pass"
BOB = "bob"
BOB_PASSWORD = "bob-pass"
CAROL = "carol"
CAROL_PASSWORD = "carol-pass"
TENANT_A = "tenant-a"
TENANT_B = "tenant-b"

USER_PASSWORDS: dict[str, str] = {
    ALICE: ALICE_PASSWORD,
    BOB: BOB_PASSWORD,
    CAROL: CAROL_PASSWORD,
}
USER_TENANTS: dict[str, str] = {ALICE: TENANT_A, BOB: TENANT_B, CAROL: TENANT_A}
USER_REALM_ROLES: dict[str, frozenset[str]] = {
    ALICE: frozenset({"trader"}),
    BOB: frozenset({"analyst"}),
    CAROL: frozenset({"admin", "trader"}),
}
USER_CLIENT_ROLES: dict[str, frozenset[str]] = {
    ALICE: frozenset({"curves:read"}),
    BOB: frozenset(),
    CAROL: frozenset({"curves:read", "curves:write"}),
}
SERVICE_ACCOUNT_CLIENT_ROLES: frozenset[str] = frozenset({"curves:read"})

KEY_PROVIDER_TYPE = "org.keycloak.keys.KeyProvider"
RSA_GENERATED = "rsa-generated"

TIMEOUT = httpx.Timeout(15.0)


class KeycloakError(RuntimeError):
    """A Keycloak endpoint answered with an unexpected status or body."""

    def __init__(self, message: str, status_code: int | None = None, body: str = "") -> None:
        super().__init__(f"{message} (status={status_code}): {body[:500]}")
        self.status_code = status_code
        self.body = body


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def issuer(base_url: str, realm: str) -> str:
    """Return the issuer (`iss`) Keycloak puts in the realm's tokens."""
    return f"{_base(base_url)}/realms/{realm}"


def token_endpoint(base_url: str, realm: str) -> str:
    """Return the realm's OpenID Connect token endpoint URL."""
    return f"{issuer(base_url, realm)}/protocol/openid-connect/token"


def jwks_uri(base_url: str, realm: str) -> str:
    """Return the realm's JWKS URL (what a resource server fetches to verify tokens)."""
    return f"{issuer(base_url, realm)}/protocol/openid-connect/certs"


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT)


def _expect(resp: httpx.Response, *ok: int) -> None:
    if resp.status_code not in ok:
        raise KeycloakError(
            f"{resp.request.method} {resp.request.url} failed", resp.status_code, resp.text
        )


def _json_object(resp: httpx.Response) -> dict[str, Any]:
    data = resp.json()
    if not isinstance(data, dict):
        raise KeycloakError(
            f"expected a JSON object from {resp.request.url}", resp.status_code, resp.text
        )
    return data


def _str_field(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise KeycloakError(f"missing string field {key!r}", None, repr(obj))
    return value


async def _token(base_url: str, realm: str, form: dict[str, str]) -> str:
    async with _client() as http:
        resp = await http.post(token_endpoint(base_url, realm), data=form)
    _expect(resp, 200)
    return _str_field(_json_object(resp), "access_token")


async def password_token(
    base_url: str,
    realm: str,
    client_id: str,
    client_secret: str,
    username: str,
    password: str,
) -> str:
    """Return an access token from the resource-owner password grant at the token endpoint."""
    return await _token(
        base_url,
        realm,
        {
            "grant_type": "password",
            "client_id": client_id,
            "client_secret": client_secret,
            "username": username,
            "password": password,
        },
    )


async def client_credentials_token(
    base_url: str,
    realm: str,
    client_id: str,
    client_secret: str,
) -> str:
    """Return an access token for the client's service account (client-credentials grant)."""
    return await _token(
        base_url,
        realm,
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        },
    )


async def admin_token(base_url: str) -> str:
    """Return an admin access token (master realm, admin-cli, the bootstrap admin/admin user)."""
    return await _token(
        base_url,
        ADMIN_REALM,
        {
            "grant_type": "password",
            "client_id": ADMIN_CLIENT_ID,
            "username": ADMIN_USERNAME,
            "password": ADMIN_PASSWORD,
        },
    )


async def _admin_client(base_url: str) -> httpx.AsyncClient:
    token = await admin_token(base_url)
    return httpx.AsyncClient(
        base_url=f"{_base(base_url)}/admin/realms",
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )


async def list_signing_kids(base_url: str, realm: str) -> list[str]:
    """Return the kids of the signing keys (use=sig) currently published in the realm's JWKS."""
    async with _client() as http:
        resp = await http.get(jwks_uri(base_url, realm))
    _expect(resp, 200)
    keys = _json_object(resp).get("keys")
    if not isinstance(keys, list):
        raise KeycloakError("JWKS has no 'keys' array", resp.status_code, resp.text)
    return [
        k["kid"]
        for k in keys
        if isinstance(k, dict) and k.get("use") == "sig" and isinstance(k.get("kid"), str)
    ]


async def _realm_keys(http: httpx.AsyncClient, realm: str) -> list[dict[str, Any]]:
    resp = await http.get(f"/{realm}/keys")
    _expect(resp, 200)
    keys = _json_object(resp).get("keys")
    if not isinstance(keys, list):
        raise KeycloakError("keys metadata has no 'keys' array", resp.status_code, resp.text)
    return [k for k in keys if isinstance(k, dict)]


async def _component_id_for_kid(http: httpx.AsyncClient, realm: str, kid: str) -> str:
    for key in await _realm_keys(http, realm):
        if key.get("kid") == kid:
            return _str_field(key, "providerId")
    raise KeycloakError(f"no key with kid {kid!r} in realm {realm!r}")


async def signing_kid(base_url: str, realm: str, algorithm: str = "RS256") -> str:
    """Return the kid of the realm's active `algorithm` key, the one new tokens are signed with."""
    http = await _admin_client(base_url)
    async with http:
        resp = await http.get(f"/{realm}/keys")
    _expect(resp, 200)
    active = _json_object(resp).get("active")
    if not isinstance(active, dict) or not isinstance(active.get(algorithm), str):
        raise KeycloakError(
            f"no active {algorithm} key in realm {realm!r}", resp.status_code, resp.text
        )
    kid: str = active[algorithm]
    return kid


async def next_rsa_priority(base_url: str, realm: str) -> int:
    """Return a key-provider priority above every RS256 key the realm has (at least 200).

    Keys added by earlier runs persist in Keycloak's database, so a test that rotates
    should ask for this rather than hard-code a priority.
    """
    http = await _admin_client(base_url)
    async with http:
        keys = await _realm_keys(http, realm)
    priorities = [
        int(k["providerPriority"])
        for k in keys
        if k.get("algorithm") == "RS256" and isinstance(k.get("providerPriority"), int)
    ]
    return max([100, *priorities]) + 100


async def rotate_rsa_key(base_url: str, realm: str, priority: int) -> str:
    """Add an `rsa-generated` RS256 key provider with `priority` and return its kid.

    Keycloak signs new tokens with the highest-priority active key, so a priority
    above the existing providers' (the imported realm's default is 100) makes the new
    key the signing key; the old keys stay in the JWKS, so old tokens still verify.
    """
    http = await _admin_client(base_url)
    async with http:
        resp = await http.get(f"/{realm}")
        _expect(resp, 200)
        realm_id = _str_field(_json_object(resp), "id")
        component = {
            "name": f"rsa-rotated-{priority}",
            "providerId": RSA_GENERATED,
            "providerType": KEY_PROVIDER_TYPE,
            "parentId": realm_id,
            "config": {
                "priority": [str(priority)],
                "enabled": ["true"],
                "active": ["true"],
                "algorithm": ["RS256"],
                "keySize": ["2048"],
            },
        }
        resp = await http.post(f"/{realm}/components", json=component)
        _expect(resp, 201)
        location = resp.headers.get("Location", "")
        component_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not component_id:
            raise KeycloakError(
                "component created without a Location header", resp.status_code, resp.text
            )
        for key in await _realm_keys(http, realm):
            if key.get("providerId") == component_id and key.get("algorithm") == "RS256":
                return _str_field(key, "kid")
    raise KeycloakError(f"new key provider {component_id} has no RS256 key in realm {realm!r}")


async def remove_key_provider_for_kid(base_url: str, realm: str, kid: str) -> None:
    """Delete the key provider component holding `kid`; the kid then leaves the JWKS."""
    http = await _admin_client(base_url)
    async with http:
        component_id = await _component_id_for_kid(http, realm, kid)
        resp = await http.delete(f"/{realm}/components/{component_id}")
        _expect(resp, 204)


async def _set_key_provider_flag(
    base_url: str, realm: str, kid: str, flag: str, value: bool
) -> None:
    http = await _admin_client(base_url)
    async with http:
        component_id = await _component_id_for_kid(http, realm, kid)
        resp = await http.get(f"/{realm}/components/{component_id}")
        _expect(resp, 200)
        component = _json_object(resp)
        config = component.get("config")
        if not isinstance(config, dict):
            config = {}
        config[flag] = ["true" if value else "false"]
        component["config"] = config
        resp = await http.put(f"/{realm}/components/{component_id}", json=component)
        _expect(resp, 204)


async def disable_key_provider_for_kid(base_url: str, realm: str, kid: str) -> None:
    """Disable the key provider holding `kid` (enabled=false): it neither signs nor verifies."""
    await _set_key_provider_flag(base_url, realm, kid, "enabled", False)


async def deactivate_key_provider_for_kid(base_url: str, realm: str, kid: str) -> None:
    """Make the key provider holding `kid` passive (active=false): verifies, no longer signs."""
    await _set_key_provider_flag(base_url, realm, kid, "active", False)
