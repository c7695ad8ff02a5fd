"""Wire models of the SSE control endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["SseSubscribeResponse", "SseUnsubscribeResponse"]


class SseSubscribeResponse(BaseModel):
    """Seed 003's answer to ``POST /sse/subscribe``."""

    success: bool = True
    topic: str
    filters: dict[str, Any] = Field(default_factory=dict)
    connection_id: str


class SseUnsubscribeResponse(BaseModel):
    """The answer to ``POST /sse/unsubscribe``: the topics the connection left."""

    success: bool = True
    topics: list[str]
    connection_id: str
