"""Structural checks of a compact JWS before any key or signature work.

Order: size → ASCII → exactly three segments → base64url alphabet → header bytes are
UTF-8 → header is a JSON object → ``alg`` is a string, ``kid`` a short string, and no
``crit``/``b64`` extension. ``jku``, ``x5u``, ``jwk``, ``x5c`` and ``x5t`` are never read:
keys come only from configuration, never from the token itself.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import orjson

from access_auth.errors import TokenMalformed, TokenMissing, TokenTooLarge

__all__ = ["TokenHeader", "parse_header"]

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_MAX_KID = 256
_MAX_ALG = 32


@dataclass(frozen=True, slots=True)
class TokenHeader:
    """The two header fields the verifier acts on."""

    alg: str
    kid: str | None


def _b64decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenMalformed("A token segment is not valid base64url") from None


def parse_header(token: str, max_bytes: int) -> TokenHeader:
    """Check the token's shape and return its alg and kid; raise a TokenError otherwise."""
    if not token:
        raise TokenMissing
    if len(token) > max_bytes:
        raise TokenTooLarge(details={"max_bytes": max_bytes})
    if not token.isascii():
        raise TokenMalformed("The token contains non-ASCII characters")
    parts = token.split(".")
    if len(parts) != 3:
        message = "Encrypted tokens (JWE) are not accepted" if len(parts) == 5 else None
        raise TokenMalformed(message or "A JWT has exactly three segments")
    header_segment, payload_segment, _signature = parts
    if not header_segment or not payload_segment:
        raise TokenMalformed("The token has an empty segment")
    for segment in parts:
        if segment and not _B64URL.fullmatch(segment):
            raise TokenMalformed("A token segment is not valid base64url")
    try:
        header: Any = orjson.loads(_b64decode(header_segment).decode("utf-8"))
    except UnicodeDecodeError:
        raise TokenMalformed("The token header is not UTF-8") from None
    except orjson.JSONDecodeError:
        raise TokenMalformed("The token header is not JSON") from None
    if not isinstance(header, dict):
        raise TokenMalformed("The token header is not a JSON object")
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg or len(alg) > _MAX_ALG:
        raise TokenMalformed("The token header has no valid alg")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > _MAX_KID):
        raise TokenMalformed("The token header kid is not a short string")
    if "crit" in header or "b64" in header:
        raise TokenMalformed("Critical header extensions are not supported")
    return TokenHeader(alg, kid)
