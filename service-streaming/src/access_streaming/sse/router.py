"""SSE routes: the event stream and its subscribe/unsubscribe controls."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from access_common.errors import ErrorBody
from access_streaming.deps import RuntimeDep
from access_streaming.sse import service
from access_streaming.sse.schemas import SseSubscribeResponse, SseUnsubscribeResponse

__all__ = ["router"]

router = APIRouter(prefix="/sse", tags=["sse"])

_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["connection_id"],
                    "properties": {
                        "connection_id": {"type": "string"},
                        "topic": {"type": "string", "description": "default: the default topic"},
                        "filters": {"type": "string", "description": 'JSON, {"commodity":"oil"}'},
                    },
                }
            }
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "TOPIC_INVALID, FILTER_INVALID, MESSAGE_MALFORMED"},
    401: {"model": ErrorBody, "description": "Token missing or refused (auth's TOKEN_* codes)"},
    403: {"model": ErrorBody, "description": "SUBSCRIPTION_DENIED (details.topic, required_role)"},
    404: {"model": ErrorBody, "description": "CONNECTION_NOT_FOUND, TOPIC_UNKNOWN"},
    503: {"model": ErrorBody, "description": "ENTITLEMENTS_UNAVAILABLE, DEPENDENCY_UNAVAILABLE"},
}


@router.get(
    "/stream",
    response_class=Response,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The event stream"},
        401: _ERRORS[401],
        429: {"model": ErrorBody, "description": "CONNECT_RATE_LIMITED, CONNECTION_LIMIT_EXCEEDED"},
        503: {"model": ErrorBody, "description": "SERVER_AT_CAPACITY, DEPENDENCY_UNAVAILABLE"},
    },
    summary="Open an event stream (events connection_established, data, error, close)",
)
async def sse_stream(request: Request, runtime: RuntimeDep) -> Response:
    """Open an SSE connection with ``?token=<jwt>`` (or an Authorization header)."""
    return await service.open_stream(runtime, request)


@router.post(
    "/subscribe",
    response_model=SseSubscribeResponse,
    responses=_ERRORS,
    openapi_extra=_FORM,
    summary="Subscribe an SSE connection to a topic",
)
async def sse_subscribe(request: Request, runtime: RuntimeDep) -> SseSubscribeResponse:
    """Form fields connection_id, topic, filters (JSON); the stream's token is required."""
    return await service.subscribe(runtime, request)


@router.post(
    "/unsubscribe",
    response_model=SseUnsubscribeResponse,
    responses=_ERRORS,
    openapi_extra=_FORM,
    summary="Unsubscribe an SSE connection from a topic (or from all)",
)
async def sse_unsubscribe(request: Request, runtime: RuntimeDep) -> SseUnsubscribeResponse:
    """Form fields connection_id and topic; the stream's token is required."""
    return await service.unsubscribe(runtime, request)
