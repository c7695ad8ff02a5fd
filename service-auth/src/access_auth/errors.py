"""The auth service's error codes: one Unauthorized subclass per way a token can fail.

Every 401 carries ``WWW-Authenticate`` (RFC 6750 §3): ``Bearer error="invalid_token"``
when a token was presented and refused, a bare ``Bearer realm="access"`` when none was.
The table of codes lives in docs/auth.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

from access_common.errors import DependencyUnavailable, Unauthorized

__all__ = [
    "INVALID_TOKEN_CHALLENGE",
    "MISSING_TOKEN_CHALLENGE",
    "KeysUnavailable",
    "TokenAlgorithmNotAllowed",
    "TokenAudienceInvalid",
    "TokenClaimsInvalid",
    "TokenError",
    "TokenExpired",
    "TokenIssuerInvalid",
    "TokenKeyUnknown",
    "TokenMalformed",
    "TokenMissing",
    "TokenNotYetValid",
    "TokenSignatureInvalid",
    "TokenTooLarge",
]

INVALID_TOKEN_CHALLENGE = 'Bearer realm="access", error="invalid_token"'  # noqa: S105
MISSING_TOKEN_CHALLENGE = 'Bearer realm="access"'  # noqa: S105


class TokenError(Unauthorized):
    """A presented token was refused (401)."""

    default_code = "TOKEN_INVALID"
    default_message = "The token is not valid"
    challenge: ClassVar[str] = INVALID_TOKEN_CHALLENGE

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        super().__init__(message, details=details, headers={"WWW-Authenticate": self.challenge})


class TokenMissing(TokenError):
    """No bearer token in the request."""

    default_code = "TOKEN_MISSING"
    default_message = "A bearer token is required"
    challenge = MISSING_TOKEN_CHALLENGE


class TokenTooLarge(TokenError):
    """The token exceeds ACCESS_JWT_MAX_TOKEN_BYTES."""

    default_code = "TOKEN_TOO_LARGE"
    default_message = "The token is larger than allowed"


class TokenMalformed(TokenError):
    """Not a compact JWS: segments, base64url, UTF-8 or JSON are wrong."""

    default_code = "TOKEN_MALFORMED"
    default_message = "The token is not a well-formed JWT"


class TokenAlgorithmNotAllowed(TokenError):
    """The header's alg is none, HMAC, unknown, or does not fit the key."""

    default_code = "TOKEN_ALGORITHM_NOT_ALLOWED"
    default_message = "The token's signing algorithm is not allowed"


class TokenKeyUnknown(TokenError):
    """No trusted key has the token's kid (after a refresh of the key set)."""

    default_code = "TOKEN_KEY_UNKNOWN"
    default_message = "The token was signed with an unknown key"


class TokenSignatureInvalid(TokenError):
    """The signature does not verify."""

    default_code = "TOKEN_SIGNATURE_INVALID"
    default_message = "The token signature is invalid"


class TokenExpired(TokenError):
    """exp is in the past (beyond the leeway)."""

    default_code = "TOKEN_EXPIRED"
    default_message = "The token has expired"


class TokenNotYetValid(TokenError):
    """nbf or iat is in the future (beyond the leeway)."""

    default_code = "TOKEN_NOT_YET_VALID"
    default_message = "The token is not valid yet"


class TokenIssuerInvalid(TokenError):
    """iss is missing or not the configured issuer."""

    default_code = "TOKEN_ISSUER_INVALID"
    default_message = "The token was issued by an untrusted issuer"


class TokenAudienceInvalid(TokenError):
    """Neither aud nor azp names this deployment."""

    default_code = "TOKEN_AUDIENCE_INVALID"
    default_message = "The token is not meant for this audience"


class TokenClaimsInvalid(TokenError):
    """A claim is missing or has the wrong type (details name the claim)."""

    default_code = "TOKEN_CLAIMS_INVALID"
    default_message = "The token's claims are invalid"


class KeysUnavailable(DependencyUnavailable):
    """No key set could ever be loaded: the service cannot verify anything yet (503)."""

    default_code = "KEYS_UNAVAILABLE"
    default_message = "Signing keys are not available yet; retry shortly"

    def __init__(self, message: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})
