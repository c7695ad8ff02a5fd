"""What a full outgoing queue does, step by step, and the per-topic counts of each step.

When a connection's queue is full the next data message first **conflates** the queue
(only the newest queued message per topic and key is kept), then, if that freed too
little, **drops** messages and remembers the range lost per topic partition (sent as a
``gap`` message once the queue has room again), and once as many messages were dropped
as the queue holds, **disconnects** with 4008 after an ``error`` ``SLOW_CONSUMER`` that
carries the position to resume from.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from prometheus_client import Counter

from access_streaming.fanout.frames import ControlFrame, DataFrame, Frame, control

if TYPE_CHECKING:
    from access_streaming.metrics import StreamingMetrics

__all__ = ["Gap", "OverflowCounts", "conflate_queue", "gap_frame"]

# (topic, partition) -> [first offset lost, last offset lost, messages lost]
Gap = dict[tuple[str, int], list[int]]


class OverflowCounts:
    """Per-topic counts of conflated, dropped and disconnected, for metrics and /stats."""

    def __init__(self, metrics: StreamingMetrics | None = None) -> None:
        self._metrics = metrics
        self.by_topic: dict[str, dict[str, int]] = {}
        self._children: dict[tuple[str, str], Counter] = {}

    def add(self, topic: str, step: str, count: int = 1) -> None:
        """Count ``count`` events of ``step`` (conflated, dropped, gap, disconnected…)."""
        steps = self.by_topic.get(topic)
        if steps is None:
            steps = self.by_topic[topic] = {}
        steps[step] = steps.get(step, 0) + count
        if self._metrics is not None:
            child = self._children.get((topic, step))
            if child is None:
                child = self._children[(topic, step)] = self._metrics.overflow.labels(topic, step)
            child.inc(count)


def conflate_queue(queue: deque[Frame], counts: OverflowCounts, step: str) -> None:
    """Keep only the newest queued data message per topic and key (others stay in order)."""
    newest: dict[tuple[str, object], DataFrame] = {}
    for frame in queue:
        if isinstance(frame, DataFrame) and frame.key is not None:
            newest[(frame.message.topic, frame.key)] = frame
    if len(newest) == 0:
        return
    kept: list[Frame] = []
    removed: dict[str, int] = {}
    for frame in queue:
        if (
            isinstance(frame, DataFrame)
            and frame.key is not None
            and newest[(frame.message.topic, frame.key)] is not frame
        ):
            topic = frame.message.topic
            removed[topic] = removed.get(topic, 0) + 1
            continue
        kept.append(frame)
    if removed:
        queue.clear()
        queue.extend(kept)
        for topic, count in removed.items():
            counts.add(topic, step, count)


def gap_frame(
    topic: str, partition: int, first: int, last: int, count: int, reason: str
) -> ControlFrame:
    """A ``gap`` message: offsets ``first``..``last`` of the partition were not delivered."""
    return control(
        "gap",
        topic=topic,
        partition=partition,
        **{"from": first, "to": last},
        count=count,
        reason=reason,
    )
