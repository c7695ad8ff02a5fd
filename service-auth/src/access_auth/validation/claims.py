"""Claims of a verified token → Principal, under a strict, typed policy.

PyJWT checks the signature; the claims are checked here because PyJWT coerces
``"exp": "1700000000"`` to an int and lets wrong-typed claims through. Rules:

- ``exp`` required, a JSON number (not a bool, finite); ``nbf``/``iat`` optional numbers;
  expired → TOKEN_EXPIRED, ``nbf``/``iat`` in the future → TOKEN_NOT_YET_VALID (leeway both ways).
- ``iss`` must equal the configured issuer (missing or different → TOKEN_ISSUER_INVALID).
- Audience: ``aud`` (string or list of strings) names a configured audience, **or** ``azp``
  is the configured client id → else TOKEN_AUDIENCE_INVALID.
- ``typ`` (Keycloak: Bearer / ID / Refresh), when present, must be ``Bearer``: an ID or
  refresh token is not an access token.
- ``sub`` a non-empty string; the tenant claim a non-empty string (required by default).
- roles = ``realm_access.roles`` + ``resource_access.<client_id>.roles``, unprefixed;
  scopes = the space-separated ``scope``.

A claim of the wrong type is TOKEN_CLAIMS_INVALID with ``details.claim`` naming it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from access_auth.errors import (
    TokenAudienceInvalid,
    TokenClaimsInvalid,
    TokenExpired,
    TokenIssuerInvalid,
    TokenNotYetValid,
)

__all__ = ["ClaimsPolicy", "Principal", "principal_from_claims"]

_MAX_TENANT = 256


@dataclass(frozen=True, slots=True)
class ClaimsPolicy:
    """What a token's claims must satisfy in this deployment."""

    issuer: str | None
    audiences: frozenset[str] = frozenset()
    client_id: str | None = None
    tenant_claim: str = "tenant_id"
    tenant_required: bool = True
    leeway: float = 30.0


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token belongs to."""

    sub: str
    tenant_id: str | None
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    exp: int
    iss: str | None
    azp: str | None
    claims: Mapping[str, Any] = field(repr=False)


def _invalid(claim: str, problem: str) -> TokenClaimsInvalid:
    return TokenClaimsInvalid(f"Claim {claim!r} {problem}", details={"claim": claim})


def _number(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise _invalid(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(name, "must be a number")
    if not math.isfinite(value):
        raise _invalid(name, "must be finite")
    return float(value)


def _string(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise _invalid(name, "must be a string")
    return value


def _string_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(name, "must be a list of strings")
    return value


def _roles_of(container: Any, name: str) -> list[str]:
    if container is None:
        return []
    if not isinstance(container, Mapping):
        raise _invalid(name, "must be an object")
    return _string_list(container.get("roles"), name)


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if aud is None:
        return []
    if isinstance(aud, str):
        return [aud]
    return _string_list(aud, "aud")


def principal_from_claims(claims: Mapping[str, Any], policy: ClaimsPolicy, now: float) -> Principal:
    """Check the claims against the policy and build the principal; raise a TokenError."""
    exp = _number(claims, "exp", required=True)
    nbf = _number(claims, "nbf", required=False)
    iat = _number(claims, "iat", required=False)
    iss = _string(claims, "iss")
    azp = _string(claims, "azp")
    typ = _string(claims, "typ")
    audiences = _audiences(claims)
    sub = _string(claims, "sub")
    assert exp is not None  # noqa: S101 - required above

    if exp <= now - policy.leeway:
        raise TokenExpired
    if nbf is not None and nbf > now + policy.leeway:
        raise TokenNotYetValid
    if iat is not None and iat > now + policy.leeway:
        raise TokenNotYetValid("The token was issued in the future")
    if policy.issuer is not None and iss != policy.issuer:
        raise TokenIssuerInvalid
    if policy.audiences or policy.client_id is not None:
        aud_ok = not policy.audiences.isdisjoint(audiences)
        azp_ok = policy.client_id is not None and azp == policy.client_id
        if not (aud_ok or azp_ok):
            raise TokenAudienceInvalid
    if typ is not None and typ.lower() != "bearer":
        raise _invalid("typ", "must be Bearer (an access token)")
    if not sub:
        raise _invalid("sub", "is required")

    tenant = claims.get(policy.tenant_claim)
    if tenant is None or tenant == "":
        if policy.tenant_required:
            raise _invalid(policy.tenant_claim, "is required")
        tenant = None
    elif not isinstance(tenant, str) or len(tenant) > _MAX_TENANT:
        raise _invalid(policy.tenant_claim, "must be a short string")

    roles = set(_roles_of(claims.get("realm_access"), "realm_access"))
    resource_access = claims.get("resource_access")
    if resource_access is not None:
        if not isinstance(resource_access, Mapping):
            raise _invalid("resource_access", "must be an object")
        if policy.client_id is not None:
            roles.update(_roles_of(resource_access.get(policy.client_id), "resource_access"))
    scope = _string(claims, "scope")
    scopes = tuple(dict.fromkeys(scope.split())) if scope else ()

    return Principal(
        sub=sub,
        tenant_id=tenant,
        roles=tuple(sorted(roles)),
        scopes=scopes,
        exp=math.floor(exp),
        iss=iss,
        azp=azp,
        claims=claims,
    )
