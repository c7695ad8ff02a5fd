"""The verifier end to end over a JWKS served through MockTransport: results and attacks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import secrets
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from access_auth.errors import KeysUnavailable, TokenError
from access_auth.jwks.cache import JwksCache
from access_auth.metrics import AuthMetrics
from access_auth.settings import DEFAULT_ALGORITHMS
from access_auth.testing import (
    FakeClock,
    FakeJwks,
    PrivateKey,
    claims,
    ec_key,
    ed25519_key,
    jwk_of,
    rsa_key,
    sign,
)
from access_auth.validation.claims import ClaimsPolicy
from access_auth.validation.verifier import TokenVerifier

ALLOWED = frozenset(DEFAULT_ALGORITHMS)
EVIL_URL = "https://evil.example/jwks.json"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand, so any bytes (even a PEM public key) can be the secret."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def public_pem() -> bytes:
    return (
        rsa_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


async def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenError) as info:
        await verifier.verify(token)
    assert info.value.status == 401
    return info.value.code


async def test_rs256_es256_eddsa_tokens_verify(verifier: TokenVerifier) -> None:
    cases: list[tuple[PrivateKey, str, str]] = [
        (rsa_key(), "RS256", "k1"),
        (ec_key(), "ES256", "ec1"),
        (ed25519_key(), "EdDSA", "ed1"),
    ]
    for key, alg, kid in cases:
        principal = await verifier.verify(sign(claims(sub=alg), key, alg, kid=kid))
        assert principal.sub == alg
        assert principal.tenant_id == "tenant-a"
        assert "trader" in principal.roles and "curves:read" in principal.roles


async def test_pss_with_an_rsa_key_that_declares_no_alg(
    verifier: TokenVerifier, jwks: FakeJwks, clock: FakeClock
) -> None:
    jwks.keys.append(jwk_of(rsa_key("any"), "rsa-any"))
    clock.advance(10)
    principal = await verifier.verify(sign(claims(), rsa_key("any"), "PS256", kid="rsa-any"))
    assert principal.sub == "user-1"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_refused(verifier: TokenVerifier, alg: str) -> None:
    header = b64(json.dumps({"alg": alg, "kid": "k1"}).encode())
    payload = b64(json.dumps(claims()).encode())
    for token in (f"{header}.{payload}.", f"{header}.{payload}.c2ln"):
        assert await refused(verifier, token) == "TOKEN_ALGORITHM_NOT_ALLOWED"


async def test_hs256_signed_with_the_rsa_public_key_is_refused(verifier: TokenVerifier) -> None:
    # The classic algorithm-confusion attack: the public key is public, so an attacker
    # can HMAC with it. HMAC is never verified with a key from the key set.
    for kid in ("k1", None):
        header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
        token = hs256(header, claims(), public_pem())
        assert await refused(verifier, token) == "TOKEN_ALGORITHM_NOT_ALLOWED"
    for alg in ("HS384", "HS512", "hs256"):
        token = f"{b64(json.dumps({'alg': alg, 'kid': 'k1'}).encode())}.e30.c2ln"
        assert await refused(verifier, token) == "TOKEN_ALGORITHM_NOT_ALLOWED"


@pytest.mark.parametrize("field", ["jku", "x5u"])
async def test_key_url_headers_are_never_fetched(
    verifier: TokenVerifier, jwks: FakeJwks, clock: FakeClock, field: str
) -> None:
    evil = rsa_key("attacker")
    clock.advance(10)
    # An attacker kid, "published" at the attacker's URL: unknown here.
    token = sign(claims(), evil, kid="evil-kid", headers={field: EVIL_URL})
    assert await refused(verifier, token) == "TOKEN_KEY_UNKNOWN"
    # A real kid with the attacker's key: the signature check uses our key.
    token = sign(claims(), evil, kid="k1", headers={field: EVIL_URL})
    assert await refused(verifier, token) == "TOKEN_SIGNATURE_INVALID"
    assert set(jwks.urls) == {jwks.urls[0]}
    assert all("evil" not in url for url in jwks.urls)


async def test_embedded_jwk_and_x5c_headers_are_ignored(verifier: TokenVerifier) -> None:
    evil = rsa_key("attacker")
    embedded = jwk_of(evil, "k1", alg="RS256")
    for kid in ("k1", None):
        token = sign(claims(), evil, kid=kid, headers={"jwk": embedded, "x5c": ["MIIBIjAN"]})
        assert await refused(verifier, token) == "TOKEN_SIGNATURE_INVALID"
    # ...and an attacker's EC key embedded with no kid finds no EC key to impersonate.
    token = sign(claims(), ec_key("attacker"), "ES256", kid=None, headers={"jwk": embedded})
    assert await refused(verifier, token) == "TOKEN_SIGNATURE_INVALID"


@pytest.mark.parametrize(
    "kid", ["../../etc/passwd", "' OR '1'='1", "k1\x00", "k1 ", "K1", "*", "http://evil/k1"]
)
async def test_kid_injection_finds_no_key(verifier: TokenVerifier, kid: str) -> None:
    token = sign(claims(), rsa_key(), kid=kid)
    assert await refused(verifier, token) == "TOKEN_KEY_UNKNOWN"


async def test_a_flood_of_junk_kids_costs_one_fetch_per_interval(
    verifier: TokenVerifier, jwks: FakeJwks, clock: FakeClock
) -> None:
    assert jwks.calls == 1
    tokens = [sign(claims(), rsa_key(), kid=secrets.token_hex(8)) for _ in range(300)]
    results = await asyncio.gather(*(verifier.verify(t) for t in tokens), return_exceptions=True)
    assert {getattr(r, "code", None) for r in results} == {"TOKEN_KEY_UNKNOWN"}
    assert jwks.calls == 1  # rate-limited: the set was fetched less than 10 s ago
    clock.advance(10)
    jwks.delay = 0.02
    results = await asyncio.gather(*(verifier.verify(t) for t in tokens), return_exceptions=True)
    assert {getattr(r, "code", None) for r in results} == {"TOKEN_KEY_UNKNOWN"}
    assert jwks.calls == 2  # single flight + rate limit: one fetch for 300 tokens


async def test_oversized_truncated_and_garbage_tokens(verifier: TokenVerifier) -> None:
    good = sign(claims(), rsa_key())
    header, payload, signature = good.split(".")
    big = sign(claims(padding="x" * 9000), rsa_key())
    not_utf8 = b64(b"\xc3\x28\xa0\xa1")
    not_json = b64(b"alg=RS256")
    an_array = b64(b'["RS256"]')
    cases = {
        big: "TOKEN_TOO_LARGE",
        f"{header}.{payload}": "TOKEN_MALFORMED",
        good[: len(header) + 5]: "TOKEN_MALFORMED",
        f"{header}.{payload}.{signature[:20]}": "TOKEN_SIGNATURE_INVALID",
        f"{header}.{payload}.": "TOKEN_SIGNATURE_INVALID",
        f"{header}.{payload[:-4]}.{signature}": "TOKEN_SIGNATURE_INVALID",
        f"{header}.{payload}!.{signature}": "TOKEN_MALFORMED",
        "not-a-token": "TOKEN_MALFORMED",
        "Bearer " + good: "TOKEN_MALFORMED",
        f"{not_utf8}.{payload}.{signature}": "TOKEN_MALFORMED",
        f"{not_json}.{payload}.{signature}": "TOKEN_MALFORMED",
        f"{an_array}.{payload}.{signature}": "TOKEN_MALFORMED",
        "": "TOKEN_MISSING",
    }
    for token, code in cases.items():
        assert await refused(verifier, token) == code, token[:60]


async def test_a_signed_payload_that_is_not_a_json_object_is_malformed(
    verifier: TokenVerifier,
) -> None:
    for payload in (b"not json", b"[1, 2, 3]", b"\xff\xfe\x00garbage", b'"just a string"'):
        token = jwt.api_jws.encode(payload, rsa_key(), "RS256", headers={"kid": "k1"})
        assert await refused(verifier, token) == "TOKEN_MALFORMED"


async def test_tampered_payload_fails_the_signature(verifier: TokenVerifier) -> None:
    header, _, signature = sign(claims(), rsa_key()).split(".")
    forged = b64(json.dumps(claims(sub="admin", realm_access={"roles": ["admin"]})).encode())
    assert await refused(verifier, f"{header}.{forged}.{signature}") == "TOKEN_SIGNATURE_INVALID"


async def test_algorithm_must_fit_the_key(verifier: TokenVerifier) -> None:
    # ES384 claimed for the P-256 key, RS256 claimed for the EC key, PS256 for an RS256-only key
    assert await refused(verifier, sign(claims(), ec_key("b", "P-384"), "ES384", kid="ec1")) == (
        "TOKEN_ALGORITHM_NOT_ALLOWED"
    )
    assert await refused(verifier, sign(claims(), rsa_key(), "RS256", kid="ec1")) == (
        "TOKEN_ALGORITHM_NOT_ALLOWED"
    )
    assert await refused(verifier, sign(claims(), rsa_key(), "PS256", kid="k1")) == (
        "TOKEN_ALGORITHM_NOT_ALLOWED"
    )
    unknown = f"{b64(json.dumps({'alg': 'XS999', 'kid': 'k1'}).encode())}.e30.c2ln"
    assert await refused(verifier, unknown) == "TOKEN_ALGORITHM_NOT_ALLOWED"


async def test_allow_list_is_enforced(cache: JwksCache, policy: ClaimsPolicy) -> None:
    await cache.refresh()
    rs_only = TokenVerifier(primary=cache, policy=policy, allowed=frozenset({"RS256"}))
    assert await rs_only.verify(sign(claims(), rsa_key()))
    token = sign(claims(), ec_key(), "ES256", kid="ec1")
    assert await refused(rs_only, token) == "TOKEN_ALGORITHM_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"exp": int(time.time()) - 3600}, "TOKEN_EXPIRED"),
        ({"nbf": int(time.time()) + 3600}, "TOKEN_NOT_YET_VALID"),
        ({"iss": "https://keycloak.test/realms/other"}, "TOKEN_ISSUER_INVALID"),
        ({"aud": "other-api", "azp": "other-client"}, "TOKEN_AUDIENCE_INVALID"),
        ({"exp": str(int(time.time()) + 3600)}, "TOKEN_CLAIMS_INVALID"),
        ({"aud": 12345}, "TOKEN_CLAIMS_INVALID"),
        ({"typ": "ID"}, "TOKEN_CLAIMS_INVALID"),
        ({"tenant_id": None}, "TOKEN_CLAIMS_INVALID"),
    ],
)
async def test_claim_failures_after_a_good_signature(
    verifier: TokenVerifier, overrides: dict[str, Any], code: str
) -> None:
    assert await refused(verifier, sign(claims(**overrides), rsa_key())) == code


async def test_claims_are_not_examined_when_the_signature_is_bad(verifier: TokenVerifier) -> None:
    token = sign(claims(exp=1, iss="evil"), rsa_key("attacker"))
    assert await refused(verifier, token) == "TOKEN_SIGNATURE_INVALID"


async def test_rotation_new_kid_verifies_and_removed_kid_stops(
    verifier: TokenVerifier, jwks: FakeJwks, clock: FakeClock
) -> None:
    old = sign(claims(), rsa_key(), kid="k1")
    new = sign(claims(), rsa_key("rotated"), kid="k2")
    jwks.keys.append(jwk_of(rsa_key("rotated"), "k2", alg="RS256"))
    # Within the refresh interval the new kid is not fetched yet...
    assert await refused(verifier, new) == "TOKEN_KEY_UNKNOWN"
    clock.advance(10)
    # ...after it, the unknown kid triggers one refresh and verifies, no restart.
    assert (await verifier.verify(new)).sub == "user-1"
    assert (await verifier.verify(old)).sub == "user-1"
    # The old key leaves the JWKS: old tokens still verify until the set is refreshed.
    jwks.keys = [k for k in jwks.keys if k.get("kid") != "k1"]
    assert (await verifier.verify(old)).sub == "user-1"
    clock.advance(3600)  # the TTL expires: the next verification refreshes in the background
    assert (await verifier.verify(old)).sub == "user-1"
    await asyncio.sleep(0.01)
    assert await refused(verifier, old) == "TOKEN_KEY_UNKNOWN"
    assert (await verifier.verify(new)).sub == "user-1"


async def test_outage_keeps_verifying_with_the_last_good_set(
    verifier: TokenVerifier, cache: JwksCache, jwks: FakeJwks, clock: FakeClock
) -> None:
    jwks.status = 500
    clock.advance(3601)
    token = sign(claims(), rsa_key())
    assert (await verifier.verify(token)).sub == "user-1"  # starts a refresh, which fails
    await asyncio.sleep(0.01)
    assert cache.status() == "degraded"
    assert (await verifier.verify(token)).sub == "user-1"
    assert await refused(verifier, sign(claims(), rsa_key(), kid="k9")) == "TOKEN_KEY_UNKNOWN"


async def test_no_key_set_yet_is_a_503_until_keys_load(
    cache: JwksCache, policy: ClaimsPolicy, jwks: FakeJwks, clock: FakeClock
) -> None:
    jwks.status = 503
    assert not await cache.refresh("startup")
    verifier = TokenVerifier(primary=cache, policy=policy, allowed=ALLOWED, retry_after=10)
    token = sign(claims(), rsa_key())
    with pytest.raises(KeysUnavailable) as info:
        await verifier.verify(token)
    assert info.value.status == 503
    assert info.value.code == "KEYS_UNAVAILABLE"
    assert info.value.headers == {"Retry-After": "10"}
    jwks.status = 200
    clock.advance(10)
    assert (await verifier.verify(token)).sub == "user-1"


async def test_no_key_source_at_all_is_a_503(policy: ClaimsPolicy) -> None:
    verifier = TokenVerifier(primary=None, policy=policy, allowed=ALLOWED)
    with pytest.raises(KeysUnavailable):
        await verifier.verify(sign(claims(), rsa_key()))


async def test_results_are_counted_and_timed(verifier: TokenVerifier, metrics: AuthMetrics) -> None:
    await verifier.verify(sign(claims(), rsa_key()))
    await refused(verifier, "garbage")
    await refused(verifier, "")
    assert metrics.verifications.labels("ok")._value.get() == 1
    assert metrics.verifications.labels("TOKEN_MALFORMED")._value.get() == 1
    assert metrics.verifications.labels("TOKEN_MISSING")._value.get() == 1
    assert metrics.verification_seconds._sum.get() > 0


async def test_mutated_tokens_only_ever_fail_with_a_token_error(verifier: TokenVerifier) -> None:
    rng = random.Random(254)
    good = sign(claims(), rsa_key())
    alphabet = "AZaz09-_.=+/ \x00\xe9"
    for _ in range(1500):
        chars = list(good)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(chars))
            action = rng.random()
            if action < 0.5:
                chars[position] = rng.choice(alphabet)
            elif action < 0.75:
                del chars[position]
            else:
                chars.insert(position, rng.choice(alphabet))
        mutated = "".join(chars)
        try:
            await verifier.verify(mutated)
        except TokenError:
            continue
        assert mutated == good  # only an identity "mutation" may verify
