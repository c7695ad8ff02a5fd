"""Dev issuer routes. Included by the app factory only when ACCESS_ENV=local."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from access_auth.deps import DevIssuerDep
from access_auth.dev.schemas import DevTokenRequest, DevTokenResponse
from access_common.errors import ErrorBody

__all__ = ["router"]

router = APIRouter(tags=["dev issuer (local only)"])


@router.get("/.well-known/openid-configuration", summary="OIDC discovery of the dev issuer")
@router.get(
    "/auth/dev/.well-known/openid-configuration",
    summary="OIDC discovery at the issuer's own path",
)
async def discovery(issuer: DevIssuerDep) -> dict[str, Any]:
    """Issuer, JWKS and token endpoint of the dev issuer."""
    return issuer.discovery()


@router.get("/auth/dev/jwks.json", summary="The dev issuer's public key set")
async def jwks(issuer: DevIssuerDep) -> dict[str, Any]:
    """The public signing key, as a JWKS."""
    return issuer.jwks()


@router.post(
    "/auth/dev/token",
    response_model=DevTokenResponse,
    responses={422: {"model": ErrorBody, "description": "Invalid request"}},
    summary="Mint a development access token",
)
async def token(body: DevTokenRequest, issuer: DevIssuerDep) -> DevTokenResponse:
    """Sign a Keycloak-shaped access token for local development."""
    access_token = issuer.mint(
        sub=body.sub,
        tenant_id=body.tenant_id,
        roles=body.roles,
        scopes=body.scopes,
        ttl_seconds=body.ttl_seconds,
    )
    return DevTokenResponse(access_token=access_token, expires_in=body.ttl_seconds)
