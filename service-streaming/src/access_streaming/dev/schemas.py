"""The publish endpoint's shapes, for its OpenAPI documentation (the route parses by hand)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["PublishMessage", "PublishResult"]


class PublishMessage(BaseModel):
    """One message to publish; ``data`` is delivered to subscribers unchanged."""

    topic: str
    data: Any
    key: str | None = Field(default=None, description="Bus key (same key, same order)")


class PublishResult(BaseModel):
    """What was published: how many, and each message's offset in order."""

    published: int
    offsets: list[int]
