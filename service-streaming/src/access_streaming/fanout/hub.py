"""The fan-out hub: topic → distinct (filter, max_rate) groups → connections, and dispatch.

:meth:`Hub.dispatch` is the publish path. A bus message is decoded once; each distinct
filter on its topic is evaluated once; the one :class:`DataFrame` is pushed onto the
queue of every connection whose filter matched (through the group's conflater when the
group asked for a ``max_rate``). Nothing on this path awaits, encodes per subscriber or
touches a socket, so one slow subscriber cannot hold up the others. Topics with a key
(the bus key or a configured payload field) keep their last message per key: the
snapshot sent on subscribe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from access_common.backends.bus import Message
from access_streaming.fanout.conflation import Conflater
from access_streaming.fanout.filters import Filter, FilterKey
from access_streaming.fanout.frames import DataFrame

if TYPE_CHECKING:
    from access_streaming.connections.connection import Connection

__all__ = ["Hub"]

logger = logging.getLogger("access_streaming.hub")

_NO_FILTER: FilterKey = ()
_GroupKey = tuple[FilterKey, float | None]
_MAX_KEY_CHARS = 256


@dataclass(slots=True)
class _Group:
    """The connections of one topic that share one filter and one max_rate."""

    filter: Filter | None
    members: dict[str, Connection] = field(default_factory=dict)
    conflater: Conflater | None = None

    def deliver(self, frame: DataFrame) -> None:
        """Queue the frame for every member."""
        for connection in self.members.values():
            connection.deliver(frame)


@dataclass(slots=True)
class _TopicFanout:
    groups: dict[_GroupKey, _Group] = field(default_factory=dict)
    subscribers: int = 0


class Hub:
    """Who receives what, and the dispatch of bus messages to them."""

    def __init__(
        self,
        key_fields: dict[str, str] | None = None,
        snapshot_topics: set[str] | None = None,
        on_conflated: Callable[[str], None] | None = None,
    ) -> None:
        self._topics: dict[str, _TopicFanout] = {}
        # topic -> payload field that keys it; topics not listed are keyed by the bus key.
        self._key_fields = dict(key_fields or {})
        self._snapshot_topics = set(snapshot_topics or ())
        # topic -> key -> the newest message (snapshot topics only)
        self.snapshots: dict[str, dict[object, DataFrame]] = {}
        self._rates: dict[tuple[str, str], float] = {}
        self._on_conflated = on_conflated or (lambda topic: None)
        self.undecodable = 0

    def keeps_snapshot(self, topic: str) -> bool:
        """Whether the topic keeps its last message per key (sent on subscribe)."""
        return topic in self._snapshot_topics

    def key_of(self, topic: str, message: Message, data: object) -> object:
        """The message's key: the configured payload field, else the bus key."""
        field_name = self._key_fields.get(topic)
        if field_name is not None:
            value = data.get(field_name) if isinstance(data, dict) else None
            if isinstance(value, (str, int, float, bool)) and len(str(value)) <= _MAX_KEY_CHARS:
                return value
            return None
        return message.key

    def add(
        self,
        connection: Connection,
        topic: str,
        filter_: Filter | None,
        max_rate: float | None = None,
    ) -> bool:
        """Subscribe (or re-filter) a connection; True when the topic had no subscriber."""
        fanout = self._topics.get(topic)
        first = fanout is None
        if fanout is None:
            fanout = self._topics[topic] = _TopicFanout()
        if topic in connection.filters:
            self._leave(fanout, connection, topic, connection.filters[topic])
        key = (filter_.key if filter_ is not None else _NO_FILTER, max_rate)
        group = fanout.groups.get(key)
        if group is None:
            group = fanout.groups[key] = _Group(filter_)
            if max_rate is not None:
                group.conflater = Conflater(max_rate, group.deliver, self._on_conflated)
        group.members[connection.id] = connection
        fanout.subscribers += 1
        connection.filters[topic] = filter_
        if max_rate is not None:
            self._rates[(connection.id, topic)] = max_rate
        return first

    def remove(self, connection: Connection, topic: str) -> bool:
        """Unsubscribe; True when the topic has no subscriber left."""
        fanout = self._topics.get(topic)
        if fanout is None or topic not in connection.filters:
            return False
        self._leave(fanout, connection, topic, connection.filters.pop(topic))
        if fanout.subscribers == 0:
            del self._topics[topic]
            return True
        return False

    def remove_all(self, connection: Connection) -> list[str]:
        """Unsubscribe from everything; the topics left without subscribers."""
        return [topic for topic in list(connection.filters) if self.remove(connection, topic)]

    def _leave(
        self, fanout: _TopicFanout, connection: Connection, topic: str, filter_: Filter | None
    ) -> None:
        rate = self._rates.pop((connection.id, topic), None)
        key = (filter_.key if filter_ is not None else _NO_FILTER, rate)
        group = fanout.groups.get(key)
        if group is not None and group.members.pop(connection.id, None) is not None:
            fanout.subscribers -= 1
            if not group.members:
                del fanout.groups[key]
                if group.conflater is not None:
                    group.conflater.close()

    def has_subscribers(self, topic: str) -> bool:
        """Whether any connection wants the topic."""
        return topic in self._topics

    def topics(self) -> dict[str, int]:
        """Subscriber count per topic with subscribers."""
        return {topic: fanout.subscribers for topic, fanout in self._topics.items()}

    def frame(self, message: Message, *, remember: bool = True) -> DataFrame | None:
        """Decode a message once into its shared frame; None (counted) when not JSON.

        ``remember`` keeps it as its key's snapshot value (live and warm-up messages, not
        a replay of older ones).
        """
        try:
            data = orjson.loads(message.value)
        except orjson.JSONDecodeError:
            self.undecodable += 1
            # The first one and then every thousandth: a bad producer must not flood the log.
            if self.undecodable % 1000 == 1:
                logger.warning(
                    "dropping messages that are not JSON (%d so far)",
                    self.undecodable,
                    extra={"topic": message.topic, "offset": message.offset},
                )
            return None
        topic = message.topic
        field_name = self._key_fields.get(topic)
        key = message.key if field_name is None else self.key_of(topic, message, data)
        frame = DataFrame(message, data, key)
        if remember and key is not None and topic in self._snapshot_topics:
            cache = self.snapshots.get(topic)
            if cache is None:
                cache = self.snapshots[topic] = {}
            cache[key] = frame
        return frame

    def dispatch(self, message: Message) -> int:
        """Queue the message for every matching subscriber; the number it was queued for."""
        fanout = self._topics.get(message.topic)
        if fanout is None:
            return 0
        frame = self.frame(message)
        if frame is None:
            return 0
        data = frame.data
        delivered = 0
        for group in fanout.groups.values():
            if group.filter is not None and not group.filter.matches(data):
                continue
            if group.conflater is not None:
                group.conflater.offer(frame)
            else:
                for connection in group.members.values():
                    connection.deliver(frame)
            delivered += len(group.members)
        return delivered

    def snapshot(self, topic: str, filter_: Filter | None) -> list[DataFrame]:
        """The newest message per key of the topic that passes the filter, oldest first."""
        cache = self.snapshots.get(topic)
        if not cache:
            return []
        frames = [f for f in cache.values() if filter_ is None or filter_.matches(f.data)]
        frames.sort(key=lambda f: (f.message.timestamp_ms, f.message.offset))
        return [f.as_snapshot() for f in frames]
