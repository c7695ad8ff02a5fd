"""The dev issuer (ACCESS_ENV=local only): mints Keycloak-shaped tokens with its own key.

Tokens carry the same claims a Keycloak access token of the realm carries (``iss``,
``aud``, ``azp``, ``typ: Bearer``, ``realm_access.roles``, ``scope`` and the tenant
claim), so the verifier maps them with exactly the same rules.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from access_auth.dev.keys import load_or_create_key
from access_auth.jwks.keys import KeySet, parse_jwk
from access_auth.settings import AuthSettings

__all__ = ["DEV_ALGORITHM", "MAX_TTL_SECONDS", "DevIssuer"]

DEV_ALGORITHM = "ES256"
MAX_TTL_SECONDS = 86400
_DEV_CLIENT = "access-dev"


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: a stable kid derived from the public key."""
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(orjson.dumps(members, option=orjson.OPT_SORT_KEYS)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class DevIssuer:
    """Holds the dev signing key; mints tokens and publishes the public key."""

    def __init__(
        self,
        private_key: ec.EllipticCurvePrivateKey,
        *,
        issuer: str,
        audiences: Sequence[str] = ("access-api",),
        client_id: str | None = None,
        tenant_claim: str = "tenant_id",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._private_key = private_key
        self.issuer = issuer
        self.audiences = list(audiences)
        self.client_id = client_id or _DEV_CLIENT
        self.tenant_claim = tenant_claim
        self._clock = clock
        public = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        self.kid = _thumbprint(public)
        self.public_jwk: dict[str, Any] = {
            **public,
            "kid": self.kid,
            "alg": DEV_ALGORITHM,
            "use": "sig",
        }

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> DevIssuer:
        """Load (or make) the key in the state folder; blocking file I/O, call off-loop."""
        return cls(
            load_or_create_key(settings.dev_key_path),
            issuer=settings.dev_issuer,
            audiences=settings.jwt_audience,
            client_id=settings.jwt_client_id,
            tenant_claim=settings.jwt_tenant_claim,
        )

    def jwks(self) -> dict[str, Any]:
        """The public key set."""
        return {"keys": [self.public_jwk]}

    def key_set(self) -> KeySet:
        """The public key as a verification key set, for in-process trust."""
        return KeySet([parse_jwk(self.public_jwk, frozenset({DEV_ALGORITHM}), source="dev")])

    def discovery(self) -> dict[str, Any]:
        """A minimal OpenID Provider Configuration for this issuer."""
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks.json",
            "token_endpoint": f"{self.issuer}/token",
            "response_types_supported": ["token"],
            "grant_types_supported": ["urn:254carbon:dev-token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [DEV_ALGORITHM],
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": [
                "iss", "sub", "aud", "azp", "exp", "iat", "jti", "typ",
                "realm_access", "scope", self.tenant_claim,
            ],
        }  # fmt: skip

    def mint(
        self,
        *,
        sub: str,
        tenant_id: str | None,
        roles: Sequence[str] = (),
        scopes: Sequence[str] = (),
        ttl_seconds: int = 3600,
    ) -> str:
        """Sign an access token for sub, valid for ttl_seconds (1..86400)."""
        if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be within 1..{MAX_TTL_SECONDS}")
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "azp": self.client_id,
            "typ": "Bearer",
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": uuid.uuid4().hex,
            "preferred_username": sub,
            "realm_access": {"roles": list(dict.fromkeys(roles))},
            "scope": " ".join(dict.fromkeys(scopes)),
        }
        if self.audiences:
            claims["aud"] = self.audiences[0] if len(self.audiences) == 1 else self.audiences
        if tenant_id is not None:
            claims[self.tenant_claim] = tenant_id
        return jwt.encode(
            claims,
            self._private_key,
            algorithm=DEV_ALGORITHM,
            headers={"kid": self.kid, "typ": "JWT"},
        )
