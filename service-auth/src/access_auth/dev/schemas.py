"""Wire models of the dev issuer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from access_auth.dev.issuer import MAX_TTL_SECONDS

__all__ = ["DevTokenRequest", "DevTokenResponse"]

Name = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^\S+$")]


class DevTokenRequest(BaseModel):
    """What the dev token should say."""

    model_config = ConfigDict(extra="forbid")

    sub: Annotated[str, StringConstraints(min_length=1, max_length=255)] = Field(examples=["alice"])
    tenant_id: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        examples=["tenant-a"]
    )
    roles: list[Name] = Field(default_factory=list, max_length=64, examples=[["trader"]])
    scopes: list[Name] = Field(default_factory=list, max_length=64, examples=[["curves:read"]])
    ttl_seconds: int = Field(default=3600, ge=1, le=MAX_TTL_SECONDS)


class DevTokenResponse(BaseModel):
    """A freshly minted access token."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name
    expires_in: int
