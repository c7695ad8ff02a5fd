"""``POST /dev/publish``: local only (load tests drive bus → fan-out → sockets through it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from access_common.errors import ErrorBody
from access_common.responses import JsonBytesResponse
from access_common.routes import DirectRoute
from access_streaming.dev.publish import publish_posted
from access_streaming.dev.schemas import PublishMessage, PublishResult
from access_streaming.runtime import StreamingRuntime

__all__ = ["router"]

# A DirectRoute: every delivery the load tools measure passes through here, and FastAPI's
# solving and validation of the body cost more than the publish itself.
router = APIRouter(prefix="/dev", tags=["local only"], route_class=DirectRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "TOPIC_INVALID"},
    404: {"model": ErrorBody, "description": "TOPIC_UNKNOWN"},
    422: {"model": ErrorBody, "description": "VALIDATION_FAILED: not JSON, or not {topic, data}"},
    503: {"model": ErrorBody, "description": "BACKEND_UNAVAILABLE: the bus did not accept it"},
}

_ONE = PublishMessage.model_json_schema()
_SCHEMA = {"anyOf": [_ONE, {"type": "array", "items": _ONE}]}
_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": _SCHEMA}}}}


@router.post(
    "/publish",
    response_model=PublishResult,
    responses=_ERRORS,
    openapi_extra=_BODY,
    summary="Publish {topic, data} (or a list of them) on the topics' buses — local only",
)
async def publish(request: Request) -> JsonBytesResponse:
    """Put the messages on the bus; subscribers receive each ``data`` unchanged."""
    runtime: StreamingRuntime = request.app.state.streaming
    return JsonBytesResponse(await publish_posted(runtime, await request.body()))
