"""PyJWT's JWS signature check, without its per-byte base64url alphabet scan.

PyJWT 2.15 checks that a segment holds only base64url characters with a Python
generator over every byte (``any(c not in ALPHABET for c in segment)``): about 40% of a
``jwt.decode`` of a Keycloak-sized RS256 token (profile in docs/benchmarks.md). This
subclass makes the same test with a compiled regex and keeps every other rule of
PyJWT's, in the same order (at most two ``=``, padding only on a multiple of four, no
length of 4n+1, canonical encoding); a test holds it to PyJWT's answers.

:meth:`FastJWS.verify_compact` is PyJWT's ``decode_complete`` for a token whose header
the verifier has already parsed and checked (:func:`access_auth.validation.token.parse_header`:
alg, kid, no ``crit``/``b64``): the header is not decoded and parsed a second time, the
rest (segment decoding, algorithm lookup, key preparation, minimum key length, the
signature check) is PyJWT's own, in its order.
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from jwt.api_jws import PyJWS
from jwt.exceptions import (
    DecodeError,
    InvalidAlgorithmError,
    InvalidKeyError,
    InvalidSignatureError,
)
from jwt.utils import base64url_decode, base64url_encode

__all__ = ["FastJWS"]

AllowedKey = Any

_ALPHABET_ONLY = re.compile(rb"[A-Za-z0-9_-]*")


class FastJWS(PyJWS):
    """A :class:`jwt.PyJWS` whose segment decoding runs in C rather than per byte."""

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if padding > 2 or (padding and len(segment) % 4 != 0):
            raise DecodeError(f"Invalid {name} padding")
        if len(stripped) % 4 == 1 or _ALPHABET_ONLY.fullmatch(stripped) is None:
            raise DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64url_decode(stripped)
        except (TypeError, binascii.Error) as err:
            raise DecodeError(f"Invalid {name} padding") from err
        if base64url_encode(decoded) != stripped:
            raise DecodeError(f"Invalid {name} padding")
        return decoded

    def verify_compact(self, token: str, key: AllowedKey, alg: str) -> bytes:
        """The payload of a compact JWS whose header was parsed already; raise PyJWT's errors.

        ``alg`` is the header's, already allowed by the verifier; ``key`` is the one key
        it picked for that alg.
        """
        signing_input, _, crypto_segment = token.rpartition(".")
        _, _, payload_segment = signing_input.partition(".")
        payload = self._decode_base64url_segment(payload_segment.encode(), "payload")
        signature = self._decode_base64url_segment(crypto_segment.encode(), "crypto")
        try:
            algorithm = self.get_algorithm_by_name(alg)
        except NotImplementedError as err:
            raise InvalidAlgorithmError("Algorithm not supported") from err
        prepared = algorithm.prepare_key(key)
        too_short = algorithm.check_key_length(prepared)
        if too_short:
            raise InvalidKeyError(too_short)
        if not algorithm.verify(signing_input.encode(), prepared, signature):
            raise InvalidSignatureError("Signature verification failed")
        return payload
