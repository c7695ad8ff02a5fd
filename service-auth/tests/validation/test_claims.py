from __future__ import annotations

import time
from typing import Any

import pytest

from access_auth.errors import (
    TokenAudienceInvalid,
    TokenClaimsInvalid,
    TokenError,
    TokenExpired,
    TokenIssuerInvalid,
    TokenNotYetValid,
)
from access_auth.testing import AUDIENCE, CLIENT_ID, ISSUER, claims
from access_auth.validation.claims import ClaimsPolicy, principal_from_claims

POLICY = ClaimsPolicy(issuer=ISSUER, audiences=frozenset({AUDIENCE}), client_id=CLIENT_ID)


def check(payload: dict[str, Any], policy: ClaimsPolicy = POLICY) -> Any:
    return principal_from_claims(payload, policy, time.time())


def test_maps_a_keycloak_access_token() -> None:
    payload = claims()
    principal = check(payload)
    assert principal.sub == "user-1"
    assert principal.tenant_id == "tenant-a"
    # realm roles + roles of the configured client only (not "account"), unprefixed
    assert principal.roles == ("curves:read", "offline_access", "trader")
    assert principal.scopes == ("openid", "profile", "email")
    assert principal.exp == payload["exp"]
    assert principal.iss == ISSUER
    assert principal.azp == CLIENT_ID
    assert principal.claims is payload


def test_audience_via_aud_or_azp() -> None:
    assert check(claims(aud=AUDIENCE, azp="other-client"))
    assert check(claims(aud="account", azp=CLIENT_ID))
    assert check(claims(aud=None, azp=CLIENT_ID))
    with pytest.raises(TokenAudienceInvalid):
        check(claims(aud="account", azp="other-client"))
    with pytest.raises(TokenAudienceInvalid):
        check(claims(aud=None, azp=None))


def test_leeway_applies_both_ways() -> None:
    now = int(time.time())
    assert check(claims(exp=now - 10))  # within the 30 s leeway
    with pytest.raises(TokenExpired):
        check(claims(exp=now - 31))
    assert check(claims(nbf=now + 10))
    with pytest.raises(TokenNotYetValid):
        check(claims(nbf=now + 120))
    with pytest.raises(TokenNotYetValid):
        check(claims(iat=now + 120))
    strict = ClaimsPolicy(issuer=ISSUER, audiences=frozenset({AUDIENCE}), leeway=0)
    with pytest.raises(TokenExpired):
        check(claims(exp=now - 1), strict)


def test_issuer_must_match() -> None:
    with pytest.raises(TokenIssuerInvalid):
        check(claims(iss="https://keycloak.test/realms/other"))
    with pytest.raises(TokenIssuerInvalid):
        check(claims(iss=None))
    unchecked = ClaimsPolicy(issuer=None, audiences=frozenset({AUDIENCE}))
    assert check(claims(iss=None), unchecked).iss is None


@pytest.mark.parametrize(
    ("overrides", "claim"),
    [
        ({"exp": None}, "exp"),
        ({"exp": "9999999999"}, "exp"),
        ({"exp": True}, "exp"),
        ({"exp": float("inf")}, "exp"),
        ({"exp": [1]}, "exp"),
        ({"nbf": "0"}, "nbf"),
        ({"iat": {"t": 1}}, "iat"),
        ({"iss": 5}, "iss"),
        ({"aud": 5}, "aud"),
        ({"aud": [AUDIENCE, 5]}, "aud"),
        ({"aud": {"x": AUDIENCE}}, "aud"),
        ({"azp": ["x"]}, "azp"),
        ({"sub": None}, "sub"),
        ({"sub": ""}, "sub"),
        ({"sub": 42}, "sub"),
        ({"typ": "ID"}, "typ"),
        ({"typ": "Refresh"}, "typ"),
        ({"typ": 1}, "typ"),
        ({"tenant_id": None}, "tenant_id"),
        ({"tenant_id": ""}, "tenant_id"),
        ({"tenant_id": ["tenant-a"]}, "tenant_id"),
        ({"tenant_id": 7}, "tenant_id"),
        ({"tenant_id": "t" * 300}, "tenant_id"),
        ({"realm_access": ["trader"]}, "realm_access"),
        ({"realm_access": {"roles": "trader"}}, "realm_access"),
        ({"realm_access": {"roles": ["trader", 1]}}, "realm_access"),
        ({"resource_access": []}, "resource_access"),
        ({"resource_access": {CLIENT_ID: {"roles": [None]}}}, "resource_access"),
        ({"scope": ["openid"]}, "scope"),
    ],
)
def test_wrong_or_missing_claims_are_refused(overrides: dict[str, Any], claim: str) -> None:
    with pytest.raises(TokenClaimsInvalid) as info:
        check(claims(**overrides))
    assert info.value.details == {"claim": claim}


def test_optional_parts_may_be_absent() -> None:
    principal = check(
        claims(realm_access=None, resource_access=None, scope=None, typ=None, iat=None)
    )
    assert principal.roles == ()
    assert principal.scopes == ()


def test_tenant_may_be_optional_and_configurable() -> None:
    optional = ClaimsPolicy(
        issuer=ISSUER, audiences=frozenset({AUDIENCE}), tenant_claim="org", tenant_required=False
    )
    assert check(claims(tenant_id=None), optional).tenant_id is None
    assert check(claims(org="org-9"), optional).tenant_id == "org-9"


def test_every_refusal_is_a_401_with_a_challenge() -> None:
    with pytest.raises(TokenError) as info:
        check(claims(exp=1))
    assert info.value.status == 401
    assert info.value.code == "TOKEN_EXPIRED"
    assert info.value.headers["WWW-Authenticate"] == 'Bearer realm="access", error="invalid_token"'
