"""Resume positions: WebSocket ``since`` and SSE ``Last-Event-ID``."""

from __future__ import annotations

import pytest

from access_streaming.errors import MessageMalformed, TopicInvalid
from access_streaming.resume import parse_last_event_id, parse_since


def test_since_parses_partitions_and_offsets() -> None:
    assert parse_since({"prices": {"0": 41, "2": -1}}) == {"prices": {0: 41, 2: -1}}
    assert parse_since(None) == {}


@pytest.mark.parametrize(
    "raw",
    [[1], {"prices": [1]}, {"prices": {"x": 1}}, {"prices": {"0": "1"}}, {"prices": {"0": -2}},
     {"prices": {"0": True}}, {"prices": {"5000": 1}}],
)  # fmt: skip
def test_since_refuses_what_is_not_a_position(raw: object) -> None:
    with pytest.raises(MessageMalformed):
        parse_since(raw)


def test_since_checks_topic_names() -> None:
    with pytest.raises(TopicInvalid):
        parse_since({"../x": {"0": 1}})


def test_last_event_id() -> None:
    assert parse_last_event_id("served.prices.v1:2:17") == {"served.prices.v1": {2: 17}}
    for junk in (None, "", "nonsense", "a:b:c", "x:0:", ":0:1"):
        assert parse_last_event_id(junk) == {}
