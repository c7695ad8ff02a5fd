"""The fan-out hub: topic → distinct filters → connections, and the per-message dispatch.

:meth:`Hub.dispatch` is the publish path. A bus message is decoded once; each distinct
filter on its topic is evaluated once; the one :class:`DataFrame` is pushed onto the
queue of every connection whose filter matched. Nothing on this path awaits, encodes
per subscriber or touches a socket, so one slow subscriber cannot hold up the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from access_common.backends.bus import Message
from access_streaming.fanout.filters import Filter, FilterKey
from access_streaming.fanout.frames import DataFrame

if TYPE_CHECKING:
    from access_streaming.connections.connection import Connection

__all__ = ["Hub"]

logger = logging.getLogger("access_streaming.hub")

_NO_FILTER: FilterKey = ()


@dataclass(slots=True)
class _Group:
    """The connections of one topic that share one filter."""

    filter: Filter | None
    members: dict[str, Connection] = field(default_factory=dict)


@dataclass(slots=True)
class _TopicFanout:
    groups: dict[FilterKey, _Group] = field(default_factory=dict)
    subscribers: int = 0


class Hub:
    """Who receives what, and the dispatch of bus messages to them."""

    def __init__(self) -> None:
        self._topics: dict[str, _TopicFanout] = {}
        self.undecodable = 0

    def add(self, connection: Connection, topic: str, filter_: Filter | None) -> bool:
        """Subscribe (or re-filter) a connection; True when the topic had no subscriber."""
        fanout = self._topics.get(topic)
        first = fanout is None
        if fanout is None:
            fanout = self._topics[topic] = _TopicFanout()
        if topic in connection.filters:
            self._leave(fanout, connection, connection.filters[topic])
        key = filter_.key if filter_ is not None else _NO_FILTER
        group = fanout.groups.get(key)
        if group is None:
            group = fanout.groups[key] = _Group(filter_)
        group.members[connection.id] = connection
        fanout.subscribers += 1
        connection.filters[topic] = filter_
        return first

    def remove(self, connection: Connection, topic: str) -> bool:
        """Unsubscribe; True when the topic has no subscriber left."""
        fanout = self._topics.get(topic)
        if fanout is None or topic not in connection.filters:
            return False
        self._leave(fanout, connection, connection.filters.pop(topic))
        if fanout.subscribers == 0:
            del self._topics[topic]
            return True
        return False

    def remove_all(self, connection: Connection) -> list[str]:
        """Unsubscribe from everything; the topics left without subscribers."""
        return [topic for topic in list(connection.filters) if self.remove(connection, topic)]

    @staticmethod
    def _leave(fanout: _TopicFanout, connection: Connection, filter_: Filter | None) -> None:
        key = filter_.key if filter_ is not None else _NO_FILTER
        group = fanout.groups.get(key)
        if group is not None and group.members.pop(connection.id, None) is not None:
            fanout.subscribers -= 1
            if not group.members:
                del fanout.groups[key]

    def has_subscribers(self, topic: str) -> bool:
        """Whether any connection wants the topic."""
        return topic in self._topics

    def topics(self) -> dict[str, int]:
        """Subscriber count per topic with subscribers."""
        return {topic: fanout.subscribers for topic, fanout in self._topics.items()}

    def dispatch(self, message: Message) -> int:
        """Queue the message for every matching subscriber; the number it was queued for."""
        fanout = self._topics.get(message.topic)
        if fanout is None:
            return 0
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
            return 0
        frame = DataFrame(message, data)
        delivered = 0
        for group in fanout.groups.values():
            if group.filter is not None and not group.filter.matches(data):
                continue
            for connection in group.members.values():
                connection.push(frame)
            delivered += len(group.members)
        return delivered
