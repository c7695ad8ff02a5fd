"""The ``/stats`` body (seed 003's shape, plus a ``nats`` section)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["BusSection", "ProtocolSection", "StatsReport", "SubscriptionSection"]


class ProtocolSection(BaseModel):
    """Connections and messages of one protocol."""

    total_connections: int
    active_connections: int
    total_messages: int
    messages_per_second: float


class SubscriptionSection(BaseModel):
    """Topics with subscribers and how many each has."""

    total_topics: int
    active_subscriptions: int
    topics: dict[str, int]


class BusSection(BaseModel):
    """The readers of one bus."""

    consumers: int
    topics: list[str]
    messages_consumed: int


class StatsReport(BaseModel):
    """One instance's streaming statistics."""

    websocket: ProtocolSection
    sse: ProtocolSection
    subscriptions: SubscriptionSection
    kafka: BusSection
    nats: BusSection
    # topic -> step -> count: snapshot, conflated_rate, conflated, dropped, gap,
    # gap_retention, disconnected (docs/streaming.md)
    delivery: dict[str, dict[str, int]] = Field(default_factory=dict)
    # collections per generation and pause times (ms) since start
    gc: dict[str, Any] = Field(default_factory=dict)
