from __future__ import annotations

from typing import Any

import pytest
from jwt.algorithms import RSAAlgorithm

from access_auth.jwks.keys import KeyRejected, KeySet, parse_jwk, parse_jwks
from access_auth.settings import DEFAULT_ALGORITHMS
from access_auth.testing import ec_key, ed25519_key, jwk_of, rsa_key

ALLOWED = frozenset(DEFAULT_ALGORITHMS)


def test_rsa_key_with_declared_alg_verifies_only_that_alg() -> None:
    key = parse_jwk(jwk_of(rsa_key(), "k1", alg="RS256"), ALLOWED, source="jwks")
    assert key.kid == "k1"
    assert key.kty == "RSA"
    assert key.algorithms == {"RS256"}
    assert "k1" in repr(key)


def test_rsa_key_without_alg_gets_the_rsa_family() -> None:
    key = parse_jwk(jwk_of(rsa_key(), "k1"), ALLOWED, source="jwks")
    assert key.algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    narrowed = parse_jwk(jwk_of(rsa_key(), "k1"), frozenset({"PS256", "ES256"}), source="jwks")
    assert narrowed.algorithms == {"PS256"}


def test_ec_and_okp_keys_get_the_algorithm_of_their_curve() -> None:
    assert parse_jwk(jwk_of(ec_key(), "e"), ALLOWED, source="t").algorithms == {"ES256"}
    p384 = parse_jwk(jwk_of(ec_key("b", "P-384"), "e"), ALLOWED, source="t")
    assert p384.algorithms == {"ES384"}
    assert parse_jwk(jwk_of(ed25519_key(), "o"), ALLOWED, source="t").algorithms == {"EdDSA"}


def _private_rsa_jwk() -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(rsa_key(), as_dict=True)
    return {**jwk, "kid": "leak"}


@pytest.mark.parametrize(
    ("jwk", "reason"),
    [
        ("not a dict", "not a JSON object"),
        ({"kid": "x"}, "kty missing"),
        ({"kty": "oct", "k": "c2VjcmV0", "kid": "h"}, "symmetric"),
        (jwk_of(rsa_key(), "e", use="enc"), "not sig"),
        ({**jwk_of(rsa_key(), "o"), "key_ops": ["encrypt"]}, "key_ops"),
        (_private_rsa_jwk(), "private key material"),
        (jwk_of(rsa_key("small", 1024), "s", alg="RS256"), "below 2048"),
        (jwk_of(ec_key(), "e", alg="RS256"), "does not fit"),
        (jwk_of(ec_key("b", "P-384"), "e", alg="ES256"), "does not fit"),
        (jwk_of(rsa_key(), "h", alg="HS256"), "does not fit"),
        ({"kty": "EC", "crv": "P-999", "x": "AA", "y": "AA"}, "unsupported key type"),
        ({"kty": "RSA", "n": "AQAB", "kid": 7}, "kid"),
        ({"kty": "RSA", "n": "!!", "e": "AQAB", "kid": "bad"}, "unusable key"),
    ],
)
def test_unsafe_or_unusable_keys_are_rejected(jwk: Any, reason: str) -> None:
    with pytest.raises(KeyRejected, match=reason):
        parse_jwk(jwk, ALLOWED, source="jwks")


def test_alg_outside_the_allow_list_is_rejected() -> None:
    with pytest.raises(KeyRejected, match="no allowed algorithm"):
        parse_jwk(jwk_of(rsa_key(), "k", alg="RS512"), frozenset({"RS256"}), source="jwks")


def test_parse_jwks_keeps_usable_keys_and_reports_the_rest() -> None:
    document = {
        "keys": [
            jwk_of(rsa_key(), "k1", alg="RS256"),
            jwk_of(rsa_key("enc"), "enc1", alg="RSA-OAEP", use="enc"),
            jwk_of(ec_key(), "k1"),  # duplicate kid
            {"kty": "oct", "k": "AAAA", "kid": "hmac"},
            "junk",
        ]
    }
    keys, skipped = parse_jwks(document, ALLOWED, source="jwks")
    assert keys.kids == {"k1"}
    assert len(keys) == 1
    assert [kid for kid, _ in skipped] == ["enc1", "k1", "hmac", None]


@pytest.mark.parametrize("document", [[], {"keys": "x"}, {"nokeys": []}, None])
def test_parse_jwks_refuses_a_non_jwks(document: Any) -> None:
    with pytest.raises(KeyRejected, match="not a JWKS"):
        parse_jwks(document, ALLOWED, source="jwks")


def test_lookup_without_kid_needs_exactly_one_candidate() -> None:
    rsa_only = KeySet([parse_jwk(jwk_of(rsa_key(), None, alg="RS256"), ALLOWED, source="t")])
    assert rsa_only.lookup(None, "RS256") is not None
    assert rsa_only.lookup(None, "ES256") is None
    two = KeySet(
        [
            parse_jwk(jwk_of(rsa_key(), "a", alg="RS256"), ALLOWED, source="t"),
            parse_jwk(jwk_of(rsa_key("b"), "b", alg="RS256"), ALLOWED, source="t"),
        ]
    )
    assert two.lookup(None, "RS256") is None
    assert two.lookup("b", "RS256") is not None
    assert two.lookup("zzz", "RS256") is None
    assert {k.kid for k in two} == {"a", "b"}
