"""Fallback keys verify only while the JWKS is unavailable — never while it is healthy."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import serialization

from access_auth.errors import KeysUnavailable, TokenError
from access_auth.jwks.cache import JwksCache
from access_auth.jwks.fallback import FallbackKeys
from access_auth.jwks.keys import KeySet, parse_jwk
from access_auth.settings import DEFAULT_ALGORITHMS
from access_auth.testing import FakeJwks, claims, ec_key, jwk_of, rsa_key, sign
from access_auth.validation.claims import ClaimsPolicy
from access_auth.validation.verifier import TokenVerifier

ALLOWED = frozenset(DEFAULT_ALGORITHMS)
SECRET = b"an-operator-fallback-secret-of-40-bytes!!"


def fallback_keys() -> FallbackKeys:
    file_key = parse_jwk(jwk_of(ec_key("fallback"), "fb1"), ALLOWED, source="fallback-file")
    return FallbackKeys.from_secret(SECRET, KeySet([file_key]))


def hs_token(secret: bytes = SECRET, alg: str = "HS256", **overrides: object) -> str:
    return sign(claims(**overrides), secret, alg, kid=None)


def file_token() -> str:
    return sign(claims(), ec_key("fallback"), "ES256", kid="fb1")


async def code_of(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenError) as info:
        await verifier.verify(token)
    return info.value.code


@pytest.fixture
def fallback_verifier(cache: JwksCache, policy: ClaimsPolicy) -> TokenVerifier:
    return TokenVerifier(primary=cache, policy=policy, allowed=ALLOWED, fallback=fallback_keys())


async def test_fallback_keys_are_refused_while_the_jwks_is_healthy(
    fallback_verifier: TokenVerifier, cache: JwksCache
) -> None:
    assert await cache.refresh()
    assert not fallback_verifier.fallback_active()
    assert await code_of(fallback_verifier, hs_token()) == "TOKEN_ALGORITHM_NOT_ALLOWED"
    assert await code_of(fallback_verifier, file_token()) == "TOKEN_KEY_UNKNOWN"
    assert (await fallback_verifier.verify(sign(claims(), rsa_key()))).sub == "user-1"


async def test_fallback_keys_verify_while_the_jwks_is_down(
    fallback_verifier: TokenVerifier, cache: JwksCache, jwks: FakeJwks
) -> None:
    assert await cache.refresh()
    jwks.status = 502
    assert not await cache.refresh()
    assert fallback_verifier.fallback_active()
    assert (await fallback_verifier.verify(hs_token())).sub == "user-1"
    assert (await fallback_verifier.verify(file_token())).sub == "user-1"
    # Keycloak tokens keep verifying with the last good set.
    assert (await fallback_verifier.verify(sign(claims(), rsa_key()))).sub == "user-1"
    # The fallback is no bypass: a wrong secret, another HMAC, claims all still checked.
    assert await code_of(fallback_verifier, hs_token(b"x" * 40)) == "TOKEN_SIGNATURE_INVALID"
    assert await code_of(fallback_verifier, hs_token(SECRET * 2, "HS512")) == (
        "TOKEN_ALGORITHM_NOT_ALLOWED"
    )
    assert await code_of(fallback_verifier, hs_token(iss="evil")) == "TOKEN_ISSUER_INVALID"
    # Algorithm confusion while the fallback is active: HMAC with the RSA public key, kid
    # naming the RSA key, is checked against the secret and fails.
    pem = (
        rsa_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = sign(claims(), SECRET, "HS256", kid="k1").rsplit(".", 1)[0]
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert await code_of(fallback_verifier, forged) == "TOKEN_SIGNATURE_INVALID"
    # Keycloak is back: the fallback switches off again.
    jwks.status = 200
    assert await cache.refresh()
    assert await code_of(fallback_verifier, hs_token()) == "TOKEN_ALGORITHM_NOT_ALLOWED"
    assert await code_of(fallback_verifier, file_token()) == "TOKEN_KEY_UNKNOWN"


async def test_fallback_when_no_key_set_was_ever_loaded(
    fallback_verifier: TokenVerifier, cache: JwksCache, jwks: FakeJwks
) -> None:
    jwks.status = 500
    assert not await cache.refresh("startup")
    assert (await fallback_verifier.verify(hs_token())).sub == "user-1"
    assert (await fallback_verifier.verify(file_token())).sub == "user-1"
    with pytest.raises(KeysUnavailable):
        await fallback_verifier.verify(sign(claims(), rsa_key()))


async def test_without_fallback_an_outage_does_not_open_hmac(
    verifier: TokenVerifier, cache: JwksCache, jwks: FakeJwks
) -> None:
    jwks.status = 500
    assert not await cache.refresh()
    assert not verifier.fallback_active()
    assert await code_of(verifier, hs_token()) == "TOKEN_ALGORITHM_NOT_ALLOWED"


async def test_secret_only_fallback_and_file_only_fallback(
    cache: JwksCache, policy: ClaimsPolicy, jwks: FakeJwks
) -> None:
    jwks.status = 500
    await cache.refresh()
    file_only = TokenVerifier(
        primary=cache, policy=policy, allowed=ALLOWED, fallback=FallbackKeys(None, KeySet())
    )
    assert await code_of(file_only, hs_token()) == "TOKEN_ALGORITHM_NOT_ALLOWED"
    no_primary = TokenVerifier(
        primary=None, policy=policy, allowed=ALLOWED, fallback=fallback_keys()
    )
    assert no_primary.fallback_active()
    assert (await no_primary.verify(hs_token())).sub == "user-1"
