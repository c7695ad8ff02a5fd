"""``GET /stats``."""

from __future__ import annotations

from fastapi import APIRouter

from access_streaming.deps import RuntimeDep
from access_streaming.runtime import StreamingRuntime
from access_streaming.stats.schemas import (
    BusSection,
    ProtocolSection,
    StatsReport,
    SubscriptionSection,
)
from access_streaming.topics import BusName

__all__ = ["router", "stats_of"]

router = APIRouter(tags=["stats"])


def _bus(runtime: StreamingRuntime, name: BusName) -> BusSection:
    topics = runtime.readers.consumers(name)
    return BusSection(
        consumers=len(topics),
        topics=topics,
        messages_consumed=runtime.readers.stats[name].messages_consumed,
    )


def stats_of(runtime: StreamingRuntime) -> StatsReport:
    """The report of one runtime."""
    topics = runtime.hub.topics()
    protocols = {
        protocol: ProtocolSection(
            total_connections=runtime.accepted[protocol],
            active_connections=runtime.active[protocol],
            total_messages=runtime.sent[protocol],
            messages_per_second=runtime.messages_per_second(protocol),
        )
        for protocol in ("websocket", "sse")
    }
    return StatsReport(
        websocket=protocols["websocket"],
        sse=protocols["sse"],
        subscriptions=SubscriptionSection(
            total_topics=len(topics), active_subscriptions=sum(topics.values()), topics=topics
        ),
        kafka=_bus(runtime, "kafka"),
        nats=_bus(runtime, "nats"),
        delivery=runtime.overflow.by_topic,
        gc=runtime.gc.report(),
    )


@router.get("/stats", response_model=StatsReport, summary="Connection and message statistics")
async def stats(runtime: RuntimeDep) -> StatsReport:
    """The instance's connections, messages, subscriptions and bus readers."""
    return stats_of(runtime)
