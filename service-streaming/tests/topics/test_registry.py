from __future__ import annotations

from pathlib import Path

import pytest

from access_streaming.errors import TopicInvalid, TopicUnknown
from access_streaming.settings import DEFAULT_TOPICS_FILE
from access_streaming.topics import TopicRegistry


def test_the_shipped_registry() -> None:
    registry = TopicRegistry.load(DEFAULT_TOPICS_FILE)
    assert registry.names() == [
        "served.market.latest_prices.v1",
        "pricing.curve.updates.v1",
        "market.data.updates.v1",
        "signals.normalized",
    ]
    assert registry.default == "served.market.latest_prices.v1"
    assert registry.get("signals.normalized").bus == "nats"
    assert registry.get("pricing.curve.updates.v1").bus == "kafka"
    topic = registry.get("market.data.updates.v1")
    assert topic.entitlement == ("subscribe", "topic:market.data.updates.v1")


def test_lookups_validate_names() -> None:
    registry = TopicRegistry.load(DEFAULT_TOPICS_FILE)
    with pytest.raises(TopicUnknown):
        registry.get("pricing.updates")
    for bad in ("", "a b", "x" * 300, "../etc", 5, None, "a..b"):
        with pytest.raises(TopicInvalid):
            registry.get(bad)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[[topic]]\nname = 'a'\nbus = 'redis'\nrequired_role = 'x'",
        "[[topic]]\nname = 'a b'\nbus = 'nats'\nrequired_role = 'x'",
        "[[topic]]\nname = 'a'\nbus = 'nats'",
        "default = 'b'\n[[topic]]\nname = 'a'\nbus = 'nats'\nrequired_role = 'x'",
        "[[topic]]\nname = 'a'\nbus = 'nats'\nrequired_role = 'x'\n"
        "[[topic]]\nname = 'a'\nbus = 'nats'\nrequired_role = 'x'",
        "not toml ][",
    ],
)
def test_bad_registry_files_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "topics.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match="topic registry"):
        TopicRegistry.load(path)
