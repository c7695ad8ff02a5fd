"""``POST /dev/publish``: local only (load tests drive bus → fan-out → sockets through it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from access_common.errors import ErrorBody
from access_streaming.deps import RuntimeDep
from access_streaming.dev.publish import PublishItem, PublishResult, publish_many

__all__ = ["router"]

router = APIRouter(prefix="/dev", tags=["local only"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "TOPIC_INVALID"},
    404: {"model": ErrorBody, "description": "TOPIC_UNKNOWN"},
    503: {"model": ErrorBody, "description": "BACKEND_UNAVAILABLE: the bus did not accept it"},
}


@router.post(
    "/publish",
    response_model=PublishResult,
    responses=_ERRORS,
    summary="Publish {topic, data} (or a list of them) on the topics' buses — local only",
)
async def publish(body: PublishItem | list[PublishItem], runtime: RuntimeDep) -> PublishResult:
    """Put the messages on the bus; subscribers receive each ``data`` unchanged."""
    items = body if isinstance(body, list) else [body]
    for item in items:
        runtime.registry.get(item.topic)
    return await publish_many(runtime, items)
