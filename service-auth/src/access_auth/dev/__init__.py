"""The dev issuer: a signing key, OIDC discovery, a JWKS and a token endpoint (local only)."""

from access_auth.dev.issuer import DEV_ALGORITHM, MAX_TTL_SECONDS, DevIssuer
from access_auth.dev.keys import DevKeyError, load_or_create_key

__all__ = ["DEV_ALGORITHM", "MAX_TTL_SECONDS", "DevIssuer", "DevKeyError", "load_or_create_key"]
