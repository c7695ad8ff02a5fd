"""FastJWS decodes segments exactly as PyJWT does, only faster."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError, PyJWTError
from jwt.warnings import InsecureKeyLengthWarning

from access_auth.testing import claims, ec_key, rsa_key, sign
from access_auth.validation.jws import FastJWS

_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_JUNK = b"=+/!. \n\x00\xff"


def _answer(decode: object, segment: bytes) -> bytes | str:
    try:
        return decode(segment, "header")  # type: ignore[operator, no-any-return]
    except DecodeError as exc:
        return f"error: {exc}"


def _segments() -> list[bytes]:
    rng = random.Random(14)
    cases = [b"", b"=", b"==", b"===", b"QQ", b"QQ==", b"QQ=", b"QR==", b"Q", b"QUI=", b"!!!!"]
    for _ in range(3000):
        body = bytes(rng.choice(_CHARS) for _ in range(rng.randrange(0, 24)))
        if rng.random() < 0.3:
            body += b"=" * rng.randrange(1, 4)
        if rng.random() < 0.2:
            position = rng.randrange(0, len(body) + 1)
            body = body[:position] + bytes([rng.choice(_JUNK)]) + body[position:]
        cases.append(body)
    return cases


@pytest.mark.parametrize("chunk", range(6))
def test_same_answer_as_pyjwt(chunk: int) -> None:
    segments = _segments()[chunk::6]
    for segment in segments:
        theirs = _answer(PyJWS._decode_base64url_segment, segment)
        ours = _answer(FastJWS._decode_base64url_segment, segment)
        assert ours == theirs, segment


def _verdict(call: Callable[[], bytes]) -> bytes | str:
    try:
        return call()
    except (PyJWTError, TypeError, ValueError) as exc:  # a key of the wrong type: TypeError
        return type(exc).__name__


def _tokens() -> list[tuple[str, Any, str]]:
    rsa, ec, small = rsa_key(), ec_key(), rsa_key("small", bits=1024)
    with pytest.warns(InsecureKeyLengthWarning):
        too_short = sign(claims(), small, "RS256", kid="s")
    good = sign(claims(), rsa, "RS256", kid="k1")
    es = sign(claims(), ec, "ES256", kid="e1")
    head, payload, signature = good.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    cases = [
        (good, rsa.public_key(), "RS256"),
        (es, ec.public_key(), "ES256"),
        (f"{head}.{payload}.{flipped}", rsa.public_key(), "RS256"),
        (f"{head}.{payload[:-1]}.{signature}", rsa.public_key(), "RS256"),
        (f"{head}.{payload}=.{signature}", rsa.public_key(), "RS256"),
        (f"{head}.{payload}.{signature}A", rsa.public_key(), "RS256"),
        (good, rsa_key("other").public_key(), "RS256"),
        (good, ec.public_key(), "RS256"),
        (es, rsa.public_key(), "ES256"),
        (too_short, small.public_key(), "RS256"),
        (good, rsa.public_key(), "XS999"),
    ]
    return cases


def test_verify_compact_gives_pyjwts_answer() -> None:
    options: Any = {"verify_signature": True, "enforce_minimum_key_length": True}
    ours, theirs = FastJWS(options=options), PyJWS(options=options)
    for token, key, alg in _tokens():
        expected = _verdict(
            lambda: theirs.decode_complete(token, key, algorithms=[alg])["payload"]  # noqa: B023
        )
        assert _verdict(lambda: ours.verify_compact(token, key, alg)) == expected, (alg, token)  # noqa: B023
