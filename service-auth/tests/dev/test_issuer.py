from __future__ import annotations

import time

import jwt
import pytest

from access_auth.dev.issuer import DevIssuer
from access_auth.jwks.source import StaticKeySource
from access_auth.settings import DEFAULT_ALGORITHMS
from access_auth.testing import ec_key
from access_auth.validation.claims import ClaimsPolicy
from access_auth.validation.verifier import TokenVerifier

ISSUER = "http://127.0.0.1:8010/auth/dev"


@pytest.fixture
def issuer() -> DevIssuer:
    return DevIssuer(ec_key("dev"), issuer=ISSUER, audiences=["access-api"])


def test_kid_is_the_rfc7638_thumbprint_and_stable(issuer: DevIssuer) -> None:
    again = DevIssuer(ec_key("dev"), issuer=ISSUER)
    assert issuer.kid == again.kid
    assert len(issuer.kid) == 43
    (jwk,) = issuer.jwks()["keys"]
    assert jwk["kid"] == issuer.kid
    assert jwk["alg"] == "ES256" and jwk["use"] == "sig"
    assert "d" not in jwk


def test_discovery_points_at_the_dev_routes(issuer: DevIssuer) -> None:
    doc = issuer.discovery()
    assert doc["issuer"] == ISSUER
    assert doc["jwks_uri"] == f"{ISSUER}/jwks.json"
    assert doc["token_endpoint"] == f"{ISSUER}/token"
    assert doc["id_token_signing_alg_values_supported"] == ["ES256"]


async def test_minted_tokens_are_keycloak_shaped_and_verify(issuer: DevIssuer) -> None:
    token = issuer.mint(
        sub="alice", tenant_id="tenant-a", roles=["trader", "trader"], scopes=["curves:read"],
        ttl_seconds=600,
    )  # fmt: skip
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "kid": issuer.kid, "typ": "JWT"}
    verifier = TokenVerifier(
        primary=StaticKeySource(issuer.key_set()),
        policy=ClaimsPolicy(issuer=ISSUER, audiences=frozenset({"access-api"})),
        allowed=frozenset(DEFAULT_ALGORITHMS),
    )
    principal = await verifier.verify(token)
    assert principal.sub == "alice"
    assert principal.tenant_id == "tenant-a"
    assert principal.roles == ("trader",)
    assert principal.scopes == ("curves:read",)
    assert principal.azp == "access-dev"
    assert principal.claims["typ"] == "Bearer"
    assert abs(principal.exp - (time.time() + 600)) < 5


def test_multiple_audiences_and_tenant_claim_name() -> None:
    issuer = DevIssuer(
        ec_key("dev"), issuer=ISSUER, audiences=["a", "b"], client_id="gw", tenant_claim="org"
    )
    payload = jwt.decode(issuer.mint(sub="s", tenant_id="t"), options={"verify_signature": False})
    assert payload["aud"] == ["a", "b"]
    assert payload["azp"] == "gw"
    assert payload["org"] == "t"


@pytest.mark.parametrize("ttl", [0, -1, 86401])
def test_ttl_is_bounded(issuer: DevIssuer, ttl: int) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        issuer.mint(sub="s", tenant_id="t", ttl_seconds=ttl)
