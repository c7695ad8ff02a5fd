"""Wire models of the verify endpoints."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from access_auth.validation.claims import Principal

__all__ = ["VerifyResponse", "VerifyWsRequest", "principal_json"]


class VerifyWsRequest(BaseModel):
    """The token a WebSocket handshake passes (``/ws/stream?token=…``)."""

    model_config = ConfigDict(extra="ignore")

    token: str = Field(description="The bearer token (compact JWS), without a scheme")


class VerifyResponse(BaseModel):
    """The principal of a verified token."""

    sub: str = Field(description="Subject: the user or service account id")
    tenant_id: str | None = Field(description="Tenant, from the configured claim")
    roles: list[str] = Field(
        description="realm_access.roles + resource_access.<client>.roles, sorted, unprefixed"
    )
    scopes: list[str] = Field(description="The space-separated scope claim, split")
    exp: int = Field(description="Expiry, seconds since the epoch")
    iss: str | None = Field(description="Issuer")
    azp: str | None = Field(default=None, description="Authorized party (client id)")
    claims: dict[str, Any] = Field(description="Every claim of the token, as issued")

    @classmethod
    def of(cls, principal: Principal) -> VerifyResponse:
        """Build the response from a principal."""
        return cls(
            sub=principal.sub,
            tenant_id=principal.tenant_id,
            roles=list(principal.roles),
            scopes=list(principal.scopes),
            exp=principal.exp,
            iss=principal.iss,
            azp=principal.azp,
            claims=dict(principal.claims),
        )


def principal_json(principal: Principal) -> bytes:
    """The :class:`VerifyResponse` body of a principal, encoded by orjson in one step.

    The principal is already typed and checked; building the model only to have FastAPI
    validate and serialise it again cost more than the map lookup that answers a repeat.
    A test holds this to the model's shape.
    """
    return orjson.dumps(
        {
            "sub": principal.sub,
            "tenant_id": principal.tenant_id,
            "roles": principal.roles,
            "scopes": principal.scopes,
            "exp": principal.exp,
            "iss": principal.iss,
            "azp": principal.azp,
            "claims": principal.claims,
        },
        default=dict,
    )
