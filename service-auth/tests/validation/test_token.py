from __future__ import annotations

import base64
import json

import pytest

from access_auth.errors import TokenError, TokenMalformed, TokenMissing, TokenTooLarge
from access_auth.validation.token import parse_header


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(header: object, payload: bytes = b'{"sub":"x"}', sig: str = "c2ln") -> str:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return f"{b64(raw)}.{b64(payload)}.{sig}"


def test_reads_alg_and_kid_and_ignores_key_carrying_headers() -> None:
    header = parse_header(
        token(
            {
                "alg": "RS256",
                "kid": "k1",
                "typ": "JWT",
                "jku": "https://evil.example/jwks.json",
                "x5u": "https://evil.example/cert.pem",
                "jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
                "x5c": ["MIIB"],
            }
        ),
        8192,
    )
    assert (header.alg, header.kid) == ("RS256", "k1")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", TokenMissing),
        ("a" * 9000, TokenTooLarge),
        ("abc", TokenMalformed),
        ("a.b", TokenMalformed),
        ("a.b.c.d", TokenMalformed),
        ("a.b.c.d.e", TokenMalformed),  # JWE
        (".e30.c2ln", TokenMalformed),
        ("eyJhbGciOiJSUzI1NiJ9..c2ln", TokenMalformed),
        ("eyJhbGciOiJSUzI1NiJ9.e30.c2ln!", TokenMalformed),
        ("eyJhbGci*iJSUzI1NiJ9.e30.c2ln", TokenMalformed),
        ("eyJhbGciOiJSUzI1NiJ9=.e30.c2ln", TokenMalformed),
        ("eyJhbGciOiJSUzI1NiJ9.e30.c2ln\u00e9", TokenMalformed),
        ("eyJhbGciOiJSUzI1NiJ9 .e30.c2ln", TokenMalformed),
        ("A.e30.c2ln", TokenMalformed),  # base64 of impossible length
        (token(b"\xff\xfe\xfd"), TokenMalformed),  # header not UTF-8
        (token(b"{not json"), TokenMalformed),
        (token(b"[1, 2]"), TokenMalformed),
        (token(b'"RS256"'), TokenMalformed),
        (token({"typ": "JWT"}), TokenMalformed),
        (token({"alg": 256}), TokenMalformed),
        (token({"alg": ""}), TokenMalformed),
        (token({"alg": "RS256", "kid": 7}), TokenMalformed),
        (token({"alg": "RS256", "kid": ""}), TokenMalformed),
        (token({"alg": "RS256", "kid": "k" * 300}), TokenMalformed),
        (token({"alg": "RS256", "crit": ["exp"], "exp": 1}), TokenMalformed),
        (token({"alg": "RS256", "b64": False, "crit": ["b64"]}), TokenMalformed),
    ],
)
def test_refuses_malformed_tokens(value: str, error: type[TokenError]) -> None:
    with pytest.raises(error) as info:
        parse_header(value, 8192)
    assert type(info.value) is error
    assert info.value.status == 401


def test_too_large_comes_before_any_parsing() -> None:
    with pytest.raises(TokenTooLarge) as info:
        parse_header("\xff" * 2000, 1024)
    assert info.value.details == {"max_bytes": 1024}
