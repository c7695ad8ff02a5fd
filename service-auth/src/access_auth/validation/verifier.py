"""The token verifier: structure → algorithm → key → signature → claims.

1. :func:`parse_header`: size limit, three base64url segments, UTF-8 JSON header.
2. ``alg``: ``none`` is refused; HS* only for the fallback secret **while the primary key
   set is unavailable** (an RSA public key is never used as an HMAC secret); any other
   alg must be in the allow-list and fit the key's type (RSA → RS*/PS*, EC → the ES* of
   its curve, OKP → EdDSA).
3. Key by ``kid`` from the primary source (the JWKS cache or the dev issuer's key); an
   unknown kid triggers one rate-limited, single-flight refresh; the fallback keys only
   while the primary is unavailable. ``jku``/``x5u``/``jwk``/``x5c`` are never consulted.
4. Signature with PyJWT's JWS layer (:mod:`access_auth.validation.jws`; the header of
   step 1 is not parsed again), pinned to that single algorithm and key (minimum key
   lengths enforced; HMAC comparison is ``hmac.compare_digest`` inside PyJWT); the
   payload must be a JSON object.
5. Claims with :func:`principal_from_claims`.

A token verified moments ago with the primary source's current key skips steps 1-5
(:mod:`access_auth.validation.recent` says exactly when).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import jwt
import orjson

from access_auth.errors import (
    KeysUnavailable,
    TokenAlgorithmNotAllowed,
    TokenError,
    TokenKeyUnknown,
    TokenMalformed,
    TokenMissing,
    TokenSignatureInvalid,
)
from access_auth.jwks.fallback import FallbackKeys
from access_auth.jwks.keys import VerificationKey
from access_auth.jwks.source import KeySource
from access_auth.metrics import AuthMetrics
from access_auth.settings import FALLBACK_SECRET_ALGORITHM
from access_auth.validation.claims import ClaimsPolicy, Principal, principal_from_claims
from access_auth.validation.jws import FastJWS
from access_auth.validation.recent import RecentTokens
from access_auth.validation.token import TokenHeader, parse_header

__all__ = ["TokenVerifier"]

logger = logging.getLogger("access_auth.verify")

# PyJWT's JWS layer checks the signature only; claims are checked (strictly typed) by
# claims.py, so PyJWT's claims layer (and its second JSON parse) is not used.
_JWS = FastJWS(options={"verify_signature": True, "enforce_minimum_key_length": True})


class TokenVerifier:
    """Verifies bearer tokens against the configured key sources and claims policy."""

    def __init__(
        self,
        *,
        primary: KeySource | None,
        policy: ClaimsPolicy,
        allowed: frozenset[str],
        fallback: FallbackKeys | None = None,
        max_token_bytes: int = 8192,
        metrics: AuthMetrics | None = None,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.time,
        recent_size: int = 10_000,
    ) -> None:
        self.primary = primary
        self.policy = policy
        self.allowed = allowed
        self.fallback = fallback
        self.max_token_bytes = max_token_bytes
        self._metrics = metrics
        self._retry_after = round(retry_after) or 1
        self._clock = clock
        self._recent = RecentTokens(recent_size, policy.leeway, clock)

    def fallback_active(self) -> bool:
        """Fallback keys count only while the primary key set is unavailable."""
        if self.fallback is None:
            return False
        return self.primary is None or not self.primary.available

    async def verify(self, token: str | None) -> Principal:
        """Verify a token and return its principal; raise a TokenError or KeysUnavailable.

        ``None`` or an empty string (no credentials) is TOKEN_MISSING, counted like any
        other result.
        """
        started = time.perf_counter()
        try:
            if not token:
                raise TokenMissing
            principal = await self._verify(token)
        except (TokenError, KeysUnavailable) as exc:
            self._observe(exc.code, started)
            logger.debug("token refused: %s", exc.code, extra={"code": exc.code})
            raise
        self._observe("ok", started)
        return principal

    def _observe(self, result: str, started: float) -> None:
        if self._metrics is not None:
            self._metrics.observe_verification(result, time.perf_counter() - started)

    async def _verify(self, token: str) -> Principal:
        primary = self.primary
        recent = self._recent.get(token, primary)
        if recent is not None:
            if primary is not None:
                primary.ensure_fresh()
            return recent
        header = parse_header(token, self.max_token_bytes)
        key = await self._key_for(header)
        claims = self._check_signature(token, key, header.alg)
        principal = principal_from_claims(claims, self.policy, self._clock())
        self._recent.put(token, header, key, principal, primary)
        return principal

    async def _key_for(self, header: TokenHeader) -> VerificationKey:
        alg = header.alg
        if alg.lower() == "none":
            raise TokenAlgorithmNotAllowed("Unsigned tokens (alg none) are refused")
        if alg.upper().startswith("HS"):
            return self._secret_key(alg)
        if alg not in self.allowed:
            raise TokenAlgorithmNotAllowed
        primary = self.primary
        if primary is not None:
            primary.ensure_fresh()
        key = self._find(header.kid, alg)
        if key is None and primary is not None:
            await primary.refresh_for_unknown_kid()
            key = self._find(header.kid, alg)
        if key is None:
            if primary is None or not primary.loaded:
                raise KeysUnavailable(retry_after=self._retry_after)
            raise TokenKeyUnknown
        if alg not in key.algorithms:
            raise TokenAlgorithmNotAllowed("The token's algorithm does not fit its key")
        return key

    def _secret_key(self, alg: str) -> VerificationKey:
        # HMAC is verified only with the configured fallback secret, only during an
        # outage, and never with a key from a key set (algorithm confusion).
        secret = self.fallback.secret if self.fallback is not None else None
        if alg == FALLBACK_SECRET_ALGORITHM and secret is not None and self.fallback_active():
            return secret
        raise TokenAlgorithmNotAllowed("HMAC-signed tokens are not accepted")

    def _find(self, kid: str | None, alg: str) -> VerificationKey | None:
        primary = self.primary
        if primary is not None and primary.loaded:
            key = primary.lookup(kid, alg)
            if key is not None:
                return key
        if self.fallback is not None and self.fallback_active():
            return self.fallback.keys.lookup(kid, alg)
        return None

    @staticmethod
    def _check_signature(token: str, key: VerificationKey, alg: str) -> dict[str, object]:
        try:
            payload = _JWS.verify_compact(token, key.key, alg)
        except jwt.InvalidSignatureError:
            raise TokenSignatureInvalid from None
        except (jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
            raise TokenAlgorithmNotAllowed("The token's algorithm does not fit its key") from None
        except jwt.PyJWTError:
            raise TokenMalformed from None
        try:
            claims = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise TokenMalformed("The token payload is not JSON") from None
        if not isinstance(claims, dict):
            raise TokenMalformed("The token payload is not a JSON object")
        return claims
