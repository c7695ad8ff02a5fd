"""Trusted signing keys: the cached Keycloak JWKS, static keys, and the outage fallback."""

from access_auth.jwks.cache import JwksCache
from access_auth.jwks.fallback import FallbackError, FallbackKeys
from access_auth.jwks.keys import KeyRejected, KeySet, VerificationKey, parse_jwk, parse_jwks
from access_auth.jwks.source import KeySource, StaticKeySource

__all__ = [
    "FallbackError",
    "FallbackKeys",
    "JwksCache",
    "KeyRejected",
    "KeySet",
    "KeySource",
    "StaticKeySource",
    "VerificationKey",
    "parse_jwk",
    "parse_jwks",
]
