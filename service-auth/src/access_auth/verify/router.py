"""POST /auth/verify and /auth/verify-ws: is this token good, and whose is it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from access_auth.deps import SettingsDep, VerifierDep, verifier_of
from access_auth.verify.schemas import VerifyResponse, VerifyWsRequest, principal_json
from access_auth.verify.service import bearer_token, read_ws_body, ws_token
from access_common.errors import ErrorBody
from access_common.responses import JsonBytesResponse
from access_common.routes import DirectRoute

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["verify"])

_CHALLENGE = {
    "WWW-Authenticate": {
        "description": 'Bearer realm="access", error="invalid_token" (no error when missing)',
        "schema": {"type": "string"},
    }
}
_TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorBody,
        "description": "Token refused; `code` is one of the TOKEN_* codes (docs/auth.md)",
        "headers": _CHALLENGE,
    },
    503: {
        "model": ErrorBody,
        "description": "KEYS_UNAVAILABLE: no signing key set loaded yet; retry",
    },
}
_WS_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_TOKEN_RESPONSES,
    400: {"model": ErrorBody, "description": "The body is not JSON (BAD_REQUEST)"},
    413: {"model": ErrorBody, "description": "The body is too large (PAYLOAD_TOO_LARGE)"},
    422: {"model": ErrorBody, "description": "The JSON has the wrong shape (VALIDATION_FAILED)"},
}
_WS_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": VerifyWsRequest.model_json_schema()}},
    }
}
_WS_BODY_SLACK = 4096


async def verify(
    request: Request,
    authorization: Annotated[
        str | None, Header(description="`Bearer <JWT>` issued by Keycloak")
    ] = None,
) -> JsonBytesResponse:
    """Return the principal of a valid token, or 401 with the precise TOKEN_* code."""
    # The hottest route of the platform: a DirectRoute (no dependency solving, the header
    # read with one lookup), the verifier read here rather than through a dependency.
    principal = await verifier_of(request).verify(bearer_token(authorization))
    return JsonBytesResponse(principal_json(principal))


router.add_api_route(
    "/verify",
    verify,
    methods=["POST"],
    response_model=VerifyResponse,
    responses=_TOKEN_RESPONSES,
    summary="Verify the bearer token of the Authorization header",
    route_class_override=DirectRoute,
)


@router.post(
    "/verify-ws",
    response_model=VerifyResponse,
    responses=_WS_RESPONSES,
    openapi_extra=_WS_BODY,
    summary='Verify a token passed in a JSON body {"token": "..."}',
)
async def verify_ws(
    request: Request, verifier: VerifierDep, settings: SettingsDep
) -> JsonBytesResponse:
    """The WebSocket handshake variant: the token travels in the body, not a header."""
    body = await read_ws_body(request, settings.jwt_max_token_bytes + _WS_BODY_SLACK)
    principal = await verifier.verify(ws_token(body))
    return JsonBytesResponse(principal_json(principal))
