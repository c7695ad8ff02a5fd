"""FastJWS decodes segments exactly as PyJWT does, only faster."""

from __future__ import annotations

import random

import pytest
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError

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
