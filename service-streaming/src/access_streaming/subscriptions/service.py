"""Subscribe and unsubscribe: topics validated, entitlements checked in one batch, fail closed.

A subscribe names topics (none: the registry's default topic) and one filter for all of
them. Every topic is checked against the registry, then the entitlements service decides
``subscribe`` on ``topic:<name>`` for all of them in one ``check-batch``. Allowed topics
join the hub and their readers start (positioned before this returns); each denied topic
gets its own ``SUBSCRIPTION_DENIED`` with the topic and the role that would grant it. When
entitlements cannot answer, nothing is subscribed (``ENTITLEMENTS_UNAVAILABLE``).
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
from access_streaming.topics import Topic, TopicRegistry, check_topic_name

__all__ = ["SubscribeOutcome", "Subscriptions"]


@dataclass(slots=True)
class SubscribeOutcome:
    """What a subscribe did: topics now subscribed, the filter, one error per refused topic."""

    subscribed: list[str] = field(default_factory=list)
    filter: Filter | None = None
    errors: list[AccessError] = field(default_factory=list)


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
        self, connection: Connection, topics: object, filters: object
    ) -> SubscribeOutcome:
        """Subscribe to what is allowed; raise only when nothing could be decided."""
        names = _topic_names(topics, self._registry.default)
        filter_ = parse_filters(filters)
        outcome = SubscribeOutcome(filter=filter_)
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
            self._hub.add(connection, topic.name, filter_)
            if fresh:
                self._metrics.subscriptions.labels(topic.name).inc()
                self._metrics.active_subscriptions.labels(topic.name).inc()
            outcome.subscribed.append(topic.name)
        # Every topic read (positioned) before the client hears it is subscribed.
        await asyncio.gather(*(self._readers.ensure(name) for name in outcome.subscribed))
        return outcome

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
