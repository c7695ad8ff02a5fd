"""Subscribe and unsubscribe: topics validated, entitlements checked in one batch, fail closed.

A subscribe names topics (none: the registry's default topic) and one filter for all of
them. Every topic is checked against the registry, then the entitlements service decides
``subscribe`` on ``topic:<name>`` for all of them in one ``check-batch``. Allowed topics
join the hub and their readers start (positioned before this returns); each denied topic
gets its own ``SUBSCRIPTION_DENIED`` with the topic and the role that would grant it. When
entitlements cannot answer, nothing is subscribed (``ENTITLEMENTS_UNAVAILABLE``).

A topic subscribed with a position (``since``) is replayed from the broker before its live
messages; a snapshot topic subscribed without one first gets its last message per key.
Live messages are held from the moment the connection joins the hub until
:meth:`Subscriptions.start_delivery` has queued the snapshot or the replay has caught up.
``max_rate`` puts the subscription in a conflating group.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from access_common.clients import EntitlementsClient
from access_common.clients.entitlements import Subject
from access_common.errors import AccessError, DependencyUnavailable
from access_streaming.bus import TopicReaders
from access_streaming.connections import Connection
from access_streaming.errors import (
    EntitlementsUnavailable,
    MessageMalformed,
    SubscriptionDenied,
    TooManyTopics,
)
from access_streaming.fanout import Filter, Hub, parse_filters
from access_streaming.metrics import StreamingMetrics
from access_streaming.resume import Replay, Since
from access_streaming.resume.replay import Held
from access_streaming.topics import Topic, TopicRegistry, check_topic_name

__all__ = ["SubscribeOutcome", "Subscriptions"]


_MAX_RATE = 1000.0
_MIN_RATE = 0.01


@dataclass(slots=True)
class SubscribeOutcome:
    """What a subscribe did: topics now subscribed, the filter, one error per refused topic."""

    subscribed: list[str] = field(default_factory=list)
    filter: Filter | None = None
    errors: list[AccessError] = field(default_factory=list)
    max_rate: float | None = None
    # Started by start_delivery, once the client was told what it subscribed to.
    replays: list[Replay] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)


def parse_max_rate(raw: object) -> float | None:
    """Messages per second per key, or None; MessageMalformed when out of range."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise MessageMalformed("max_rate is a number of messages per second per key")
    if not _MIN_RATE <= raw <= _MAX_RATE:
        raise MessageMalformed(f"max_rate is between {_MIN_RATE} and {_MAX_RATE:g}")
    return float(raw)


def _topic_names(raw: object, default: str) -> list[str]:
    if raw is None or raw == []:
        return [default]
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise MessageMalformed("data.topics must be a list of topic names")
    return list(dict.fromkeys(check_topic_name(name) for name in raw))


class Subscriptions:
    """The subscribe/unsubscribe logic shared by WebSocket and SSE."""

    def __init__(
        self,
        registry: TopicRegistry,
        hub: Hub,
        readers: TopicReaders,
        entitlements: EntitlementsClient,
        metrics: StreamingMetrics,
        *,
        max_topics: int,
    ) -> None:
        self._registry = registry
        self._hub = hub
        self._readers = readers
        self._entitlements = entitlements
        self._metrics = metrics
        self._max_topics = max_topics

    async def subscribe(
        self,
        connection: Connection,
        topics: object,
        filters: object,
        *,
        since: Since | None = None,
        max_rate: object = None,
    ) -> SubscribeOutcome:
        """Subscribe to what is allowed; raise only when nothing could be decided."""
        names = _topic_names(topics, self._registry.default)
        filter_ = parse_filters(filters)
        rate = parse_max_rate(max_rate)
        outcome = SubscribeOutcome(filter=filter_, max_rate=rate)
        wanted: list[Topic] = []
        for name in names:
            try:
                wanted.append(self._registry.get(name))
            except AccessError as exc:
                outcome.errors.append(exc)
        new = [t for t in wanted if t.name not in connection.filters]
        if len(connection.filters) + len(new) > self._max_topics:
            raise TooManyTopics(
                f"At most {self._max_topics} topics per connection",
                details={"max": self._max_topics},
            )
        if not wanted:
            return outcome
        owner = connection.owner
        subject = Subject(owner.user_id, owner.tenant_id, owner.roles)
        try:
            decisions = await self._entitlements.check_batch(
                subject, [topic.entitlement for topic in wanted]
            )
        except DependencyUnavailable as exc:
            raise EntitlementsUnavailable(details={"cause": exc.code}) from None
        except AccessError as exc:
            # Any other answer is a refusal of the whole request: fail closed.
            raise EntitlementsUnavailable(details={"cause": exc.code}) from None
        for topic, decision in zip(wanted, decisions, strict=True):
            if not decision.allow:
                self._metrics.refusals.labels(SubscriptionDenied.default_code).inc()
                outcome.errors.append(
                    SubscriptionDenied(
                        f"Insufficient permissions for topic {topic.name}",
                        details={"topic": topic.name, "required_role": topic.required_role},
                    )
                )
                continue
            if connection.closed:
                break
            fresh = topic.name not in connection.filters
            position = (since or {}).get(topic.name)
            if position is not None:
                bus, _ = self._readers.bus_for(topic.name)
                replay = Replay(bus, self._hub, connection, topic.name, position, filter_)
                replay.hold()
                outcome.replays.append(replay)
            elif fresh and self._hub.keeps_snapshot(topic.name):
                if connection.holds is None:
                    connection.holds = {}
                connection.holds[topic.name] = Held(connection.max_queue)
                outcome.snapshots.append(topic.name)
            self._hub.add(connection, topic.name, filter_, rate)
            if fresh:
                self._metrics.subscriptions.labels(topic.name).inc()
                self._metrics.active_subscriptions.labels(topic.name).inc()
            outcome.subscribed.append(topic.name)
        # Every topic read (positioned) before the client hears it is subscribed.
        await asyncio.gather(*(self._readers.ensure(name) for name in outcome.subscribed))
        return outcome

    def start_delivery(self, connection: Connection, outcome: SubscribeOutcome) -> None:
        """Queue the snapshots, start the replays; live messages follow each without a gap."""
        for name in outcome.snapshots:
            holds = connection.holds or {}
            held = holds.pop(name, [])
            if not holds:
                connection.holds = None
            if connection.closed:
                continue
            frames = self._hub.snapshot(name, outcome.filter)
            for frame in frames:
                connection.push(frame)
            # The snapshot has the newest value of every held keyed message already.
            for frame in held:
                if frame.key is None:
                    connection.push(frame)
            connection.counts.add(name, "snapshot", len(frames))
        for replay in outcome.replays:
            task = asyncio.create_task(replay.run(), name=f"replay {connection.id}")
            if connection.tasks is None:
                connection.tasks = set()
            connection.tasks.add(task)
            task.add_done_callback(connection.tasks.discard)

    def unsubscribe(self, connection: Connection, topics: object) -> list[str]:
        """Leave the named topics (none: every topic); the ones actually left."""
        if topics is None or topics == []:
            names = list(connection.filters)
        else:
            names = _topic_names(topics, self._registry.default)
        left = [name for name in names if name in connection.filters]
        for name in left:
            self._metrics.active_subscriptions.labels(name).dec()
            if self._hub.remove(connection, name):
                self._readers.release(name)
        return left

    def drop(self, connection: Connection) -> None:
        """Forget every subscription of a closed connection."""
        for name in connection.filters:
            self._metrics.active_subscriptions.labels(name).dec()
        for name in self._hub.remove_all(connection):
            self._readers.release(name)
