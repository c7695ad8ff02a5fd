"""Client of the auth service: ``POST /auth/verify`` and ``/auth/verify-ws``."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from access_common.clients._errors import raise_for_peer_error
from access_common.errors import DependencyUnavailable
from access_common.http import HttpClient

__all__ = ["AuthClient", "VerifiedPrincipal"]


class VerifiedPrincipal(BaseModel):
    """Who a verified token belongs to, as the auth service answers it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sub: str
    tenant_id: str | None
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    exp: int
    iss: str | None = None
    azp: str | None = None
    claims: dict[str, Any]


class AuthClient:
    """Ask the auth service whether a token is good; its 401 codes come back as Unauthorized."""

    def __init__(self, http: HttpClient, base_url: str) -> None:
        self._http = http
        self._verify_url = base_url.rstrip("/") + "/auth/verify"
        self._verify_ws_url = base_url.rstrip("/") + "/auth/verify-ws"

    async def verify(self, token: str) -> VerifiedPrincipal:
        """Verify a bearer token (sent as the Authorization header)."""
        response = await self._http.request(
            "POST", self._verify_url, headers={"authorization": f"Bearer {token}"}, idempotent=True
        )
        return self._principal(response)

    async def verify_ws(self, token: str) -> VerifiedPrincipal:
        """Verify a token passed in a WebSocket handshake (sent in the JSON body)."""
        response = await self._http.request(
            "POST", self._verify_ws_url, content=orjson.dumps({"token": token}),
            headers={"content-type": "application/json"}, idempotent=True,
        )  # fmt: skip
        return self._principal(response)

    @staticmethod
    def _principal(response: httpx.Response) -> VerifiedPrincipal:
        raise_for_peer_error(response, "auth")
        try:
            return VerifiedPrincipal.model_validate_json(response.content)
        except ValidationError:
            raise DependencyUnavailable(
                "auth answered an unreadable principal",
                details={"peer": "auth", "status": response.status_code},
            ) from None
