"""Verification keys and key sets, parsed from JWKs with PyJWT under a strict policy.

A key is kept only when it is a public signing key of an allowed type: ``use`` absent or
``sig``, no private material, no symmetric (``oct``) key, RSA of at least 2048 bits, and an
algorithm that fits its type (RSA → RS*/PS*, EC → the ES* of its curve, OKP → EdDSA) and
is in the allow-list. Everything else is skipped with a reason the caller logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt import PyJWK
from jwt.exceptions import PyJWTError

__all__ = [
    "KeyRejected",
    "KeySet",
    "VerificationKey",
    "algorithms_for",
    "parse_jwk",
    "parse_jwks",
]

_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}
_OKP_CURVES = frozenset({"Ed25519", "Ed448"})
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MAX_KID = 256
_MIN_RSA_BITS = 2048
_PUBLIC_TYPES = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
)


class KeyRejected(ValueError):
    """A JWK was not accepted; the message says why (never key material)."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One trusted key: the algorithms it may verify and where it came from."""

    kid: str | None
    kty: str
    algorithms: frozenset[str]
    key: Any  # a cryptography public key, or bytes for the fallback HMAC secret
    source: str

    def __repr__(self) -> str:
        # Never print key material (the fallback secret is bytes).
        algs = ",".join(sorted(self.algorithms))
        return f"VerificationKey(kid={self.kid!r}, kty={self.kty}, algs={algs}, {self.source})"


def algorithms_for(kty: str, crv: str | None) -> frozenset[str]:
    """Every algorithm a key of this type and curve may verify, before the allow-list."""
    if kty == "RSA":
        return _RSA_ALGORITHMS
    if kty == "EC" and crv in _EC_ALGORITHMS:
        return frozenset({_EC_ALGORITHMS[crv]})
    if kty == "OKP" and crv in _OKP_CURVES:
        return frozenset({"EdDSA"})
    return frozenset()


def parse_jwk(jwk: Any, allowed: frozenset[str], *, source: str) -> VerificationKey:
    """Build a verification key from one JWK, or raise KeyRejected."""
    if not isinstance(jwk, Mapping):
        raise KeyRejected("not a JSON object")
    kty = jwk.get("kty")
    if not isinstance(kty, str):
        raise KeyRejected("kty missing")
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > _MAX_KID):
        raise KeyRejected("kid is not a short string")
    if kty == "oct":
        raise KeyRejected("symmetric keys are never trusted from a key set")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise KeyRejected(f"use is {str(use)[:16]!r}, not sig")
    if _PRIVATE_MEMBERS & set(jwk):
        raise KeyRejected("the key set publishes private key material")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise KeyRejected("key_ops does not include verify")
    crv = jwk.get("crv")
    family = algorithms_for(kty, crv if isinstance(crv, str) else None)
    if not family:
        raise KeyRejected(f"unsupported key type {kty[:16]!r}")
    declared = jwk.get("alg")
    if declared is not None:
        if not isinstance(declared, str) or declared not in family:
            raise KeyRejected(f"alg {str(declared)[:16]!r} does not fit a {kty} key")
        algorithms = frozenset({declared}) & allowed
    else:
        algorithms = family & allowed
    if not algorithms:
        raise KeyRejected("no allowed algorithm for this key")
    try:
        key = PyJWK(dict(jwk), algorithm=min(algorithms)).key
    except (PyJWTError, ValueError, TypeError) as exc:
        raise KeyRejected(f"unusable key ({type(exc).__name__})") from None
    if not isinstance(key, _PUBLIC_TYPES):
        raise KeyRejected("not a public key")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < _MIN_RSA_BITS:
        raise KeyRejected(f"RSA key of {key.key_size} bits is below {_MIN_RSA_BITS}")
    return VerificationKey(kid, kty, algorithms, key, source)


class KeySet:
    """An immutable set of verification keys, looked up by kid and algorithm."""

    def __init__(self, keys: Iterable[VerificationKey] = ()) -> None:
        self._keys: tuple[VerificationKey, ...] = tuple(keys)
        by_kid: dict[str, VerificationKey] = {}
        for key in self._keys:
            if key.kid is not None:
                by_kid.setdefault(key.kid, key)
        self._by_kid = by_kid

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[VerificationKey]:
        return iter(self._keys)

    @property
    def kids(self) -> frozenset[str]:
        """The key ids in the set."""
        return frozenset(self._by_kid)

    def lookup(self, kid: str | None, alg: str) -> VerificationKey | None:
        """The key named by kid; without a kid, the only key that can verify alg."""
        if kid is not None:
            return self._by_kid.get(kid)
        candidates = [k for k in self._keys if alg in k.algorithms]
        return candidates[0] if len(candidates) == 1 else None


def parse_jwks(
    document: Any, allowed: frozenset[str], *, source: str
) -> tuple[KeySet, list[tuple[str | None, str]]]:
    """Parse a JWKS document; return the usable keys and (kid, reason) for each skipped one."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeyRejected('not a JWKS document (no "keys" list)')
    keys: list[VerificationKey] = []
    skipped: list[tuple[str | None, str]] = []
    seen: set[str] = set()
    for jwk in document["keys"]:
        raw_kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
        kid = raw_kid[:_MAX_KID] if isinstance(raw_kid, str) else None
        try:
            key = parse_jwk(jwk, allowed, source=source)
        except KeyRejected as exc:
            skipped.append((kid, str(exc)))
            continue
        if key.kid is not None:
            if key.kid in seen:
                skipped.append((kid, "duplicate kid"))
                continue
            seen.add(key.kid)
        keys.append(key)
    return KeySet(keys), skipped
