"""Fallback keys for a Keycloak outage (runbook: ACCESS_JWKS_FALLBACK_ENABLED=true).

The fallback is an HS256 secret (ACCESS_JWT_SECRET_KEY, at least 32 bytes) and/or a JWKS
file of public keys (ACCESS_JWKS_FALLBACK_FILE). The verifier consults it **only while the
primary key set is unavailable** (never loaded, or its last refresh failed); while the
JWKS is healthy a token signed with a fallback key is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from access_auth.jwks.keys import KeyRejected, KeySet, VerificationKey, parse_jwks
from access_auth.settings import FALLBACK_SECRET_ALGORITHM, MIN_SECRET_BYTES, AuthSettings

__all__ = ["FallbackError", "FallbackKeys"]


class FallbackError(ValueError):
    """The configured fallback key material cannot be used (fails start-up)."""


@dataclass(frozen=True, slots=True)
class FallbackKeys:
    """The HMAC secret and/or the file key set trusted during an outage."""

    secret: VerificationKey | None
    keys: KeySet

    def lookup(self, kid: str | None, alg: str) -> VerificationKey | None:
        """HS256 goes to the secret; anything else to the file's keys by kid."""
        if alg == FALLBACK_SECRET_ALGORITHM:
            return self.secret
        return self.keys.lookup(kid, alg)

    @classmethod
    def from_secret(cls, secret: bytes, keys: KeySet | None = None) -> FallbackKeys:
        """Wrap a raw secret (tests, and the settings path below)."""
        if len(secret) < MIN_SECRET_BYTES:
            raise FallbackError(f"the fallback secret must be at least {MIN_SECRET_BYTES} bytes")
        key = VerificationKey(
            None, "oct", frozenset({FALLBACK_SECRET_ALGORITHM}), secret, "fallback-secret"
        )
        return cls(key, keys or KeySet())

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> FallbackKeys | None:
        """Load the fallback material when the fallback is enabled (reads the file once)."""
        if not settings.jwks_fallback_enabled:
            return None
        keys = KeySet()
        if settings.jwks_fallback_file is not None:
            keys = load_file(settings.jwks_fallback_file, frozenset(settings.jwt_algorithms))
        if settings.jwt_secret_key is not None:
            return cls.from_secret(settings.jwt_secret_key.get_secret_value().encode(), keys)
        return cls(None, keys)


def load_file(path: Path, allowed: frozenset[str]) -> KeySet:
    """Read a JWKS file of public keys; an unreadable or empty file is a start-up error."""
    try:
        document = orjson.loads(path.read_bytes())
        keys, skipped = parse_jwks(document, allowed, source="fallback-file")
    except OSError as exc:
        raise FallbackError(f"ACCESS_JWKS_FALLBACK_FILE: cannot read ({exc.strerror})") from None
    except (orjson.JSONDecodeError, KeyRejected) as exc:
        reason = "not JSON" if isinstance(exc, orjson.JSONDecodeError) else str(exc)
        raise FallbackError(f"ACCESS_JWKS_FALLBACK_FILE: {reason}") from None
    if not keys:
        reasons = "; ".join(why for _, why in skipped) or "no keys"
        raise FallbackError(f"ACCESS_JWKS_FALLBACK_FILE has no usable key ({reasons})")
    return keys
