"""Getting the token out of a request: the Authorization header or a small JSON body."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request

from access_auth.verify.schemas import VerifyWsRequest
from access_common.errors import BadRequest, PayloadTooLarge, ValidationFailed

__all__ = ["bearer_token", "read_ws_body", "ws_token"]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None (TOKEN_MISSING) otherwise."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    token = value.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


async def read_ws_body(request: Request, limit: int) -> bytes:
    """Read at most limit bytes of body; 413 beyond, whatever Content-Length says."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(details={"max_bytes": limit})
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(details={"max_bytes": limit})
        chunks.append(chunk)
    return b"".join(chunks)


def ws_token(body: bytes) -> str:
    """Parse ``{"token": "..."}``: 400 when not JSON, 422 when the shape is wrong.

    An empty token string is left to the verifier, which answers TOKEN_MISSING.
    """
    if not body.strip():
        raise BadRequest('A JSON body {"token": "..."} is required')
    try:
        request = VerifyWsRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        if any(err["type"] == "json_invalid" for err in errors):
            raise BadRequest("The body is not valid UTF-8 JSON") from None
        details = [
            {"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
            for err in errors
        ]
        raise ValidationFailed(details={"errors": details}) from None
    return request.token
