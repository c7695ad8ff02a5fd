"""Load and query the topic registry file (TOML): topic → bus, entitlement, required role."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from access_streaming.errors import TopicInvalid, TopicUnknown

__all__ = ["BusName", "Topic", "TopicRegistry", "check_topic_name"]

BusName = Literal["kafka", "nats"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_ACTION = "subscribe"


def check_topic_name(name: object) -> str:
    """The name when it is a well-formed topic name; TopicInvalid otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise TopicInvalid(
            "Topic names are 1-200 letters, digits, '.', '_' or '-'",
            details={"topic": name if isinstance(name, str) and len(name) <= 200 else None},
        )
    return name


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic clients may subscribe to."""

    name: str
    bus: BusName
    required_role: str
    description: str = ""
    # The payload field that keys messages (conflation, snapshot); None: the bus key.
    key: str | None = None
    # Keep the last message per key and send it first to a new subscriber.
    snapshot: bool = False
    # Messages per partition read back to fill the snapshot when the reader starts.
    snapshot_depth: int = 10_000

    @property
    def entitlement(self) -> tuple[str, str]:
        """The (action, resource) pair the entitlements service decides."""
        return (_ACTION, f"topic:{self.name}")


class TopicRegistry:
    """The topics of one deployment, read once at start."""

    def __init__(self, topics: list[Topic], default: str) -> None:
        self._topics = {topic.name: topic for topic in topics}
        if len(self._topics) != len(topics):
            raise ValueError("topic registry: a topic is listed twice")
        if default not in self._topics:
            raise ValueError(f"topic registry: default topic {default!r} is not listed")
        self.default = default

    @classmethod
    def load(cls, path: Path) -> TopicRegistry:
        """Read the registry file; ValueError names what is wrong."""
        try:
            raw = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"topic registry {path}: {exc}") from None
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TopicRegistry:
        """Build from the parsed file (tests pass dictionaries)."""
        topics: list[Topic] = []
        for entry in raw.get("topic", []):
            name = entry.get("name")
            bus = entry.get("bus")
            role = entry.get("required_role")
            try:
                check_topic_name(name)
            except TopicInvalid:
                raise ValueError(f"topic registry: invalid topic name {name!r}") from None
            if bus not in ("kafka", "nats"):
                raise ValueError(f"topic registry: {name}: bus must be 'kafka' or 'nats'")
            if not isinstance(role, str) or not role:
                raise ValueError(f"topic registry: {name}: required_role is missing")
            key = entry.get("key")
            if key is not None and (not isinstance(key, str) or not key):
                raise ValueError(f"topic registry: {name}: key must be a payload field name")
            snapshot = entry.get("snapshot", False)
            depth = entry.get("snapshot_depth", 10_000)
            if not isinstance(snapshot, bool):
                raise ValueError(f"topic registry: {name}: snapshot must be true or false")
            if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
                raise ValueError(f"topic registry: {name}: snapshot_depth must be >= 0")
            topics.append(
                Topic(
                    name,
                    bus,
                    role,
                    str(entry.get("description", "")),
                    key=key,
                    snapshot=snapshot,
                    snapshot_depth=depth,
                )
            )
        if not topics:
            raise ValueError("topic registry: no topics")
        return cls(topics, str(raw.get("default", topics[0].name)))

    def get(self, name: object) -> Topic:
        """The topic; TopicInvalid for a malformed name, TopicUnknown when not registered."""
        topic = self._topics.get(check_topic_name(name))
        if topic is None:
            raise TopicUnknown(f"Unknown topic {name}", details={"topic": name})
        return topic

    def __contains__(self, name: object) -> bool:
        return name in self._topics

    def __iter__(self) -> Iterator[Topic]:
        return iter(self._topics.values())

    def names(self) -> list[str]:
        """Every topic name, in file order."""
        return list(self._topics)
