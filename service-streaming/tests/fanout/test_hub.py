from __future__ import annotations

from unittest import mock

import orjson

from access_common.backends.bus import Message
from access_streaming.connections import CloseCode, Connection, Owner
from access_streaming.fanout import DataFrame, Hub, parse_filters

OWNER = Owner("u", "t", (), 0.0)


def _conn(max_queue: int = 100) -> Connection:
    return Connection("websocket", OWNER, max_queue=max_queue)


def _message(data: object, topic: str = "prices") -> Message:
    return Message(topic, orjson.dumps(data), offset=1)


def test_one_decode_one_frame_per_message_shared_by_matching_subscribers() -> None:
    hub = Hub()
    oil = [_conn() for _ in range(3)]
    gas = _conn()
    everything = _conn()
    other_topic = _conn()
    for conn in oil:
        hub.add(conn, "prices", parse_filters({"commodity": "oil"}))
    hub.add(gas, "prices", parse_filters({"commodity": "gas"}))
    hub.add(everything, "prices", None)
    hub.add(other_topic, "curves", None)
    with mock.patch("orjson.loads", wraps=orjson.loads) as loads:
        assert hub.dispatch(_message({"commodity": "oil"})) == 4
    assert loads.call_count == 1
    frames = {id(conn.queue[0]) for conn in [*oil, everything]}
    assert len(frames) == 1  # the very same frame object
    assert isinstance(oil[0].queue[0], DataFrame)
    assert not gas.queue and not other_topic.queue


def test_resubscribe_replaces_the_filter_and_counts_stay_right() -> None:
    hub = Hub()
    conn = _conn()
    assert hub.add(conn, "prices", parse_filters({"a": 1})) is True
    assert hub.add(conn, "prices", parse_filters({"a": 2})) is False
    assert hub.topics() == {"prices": 1}
    hub.dispatch(_message({"a": 1}))
    hub.dispatch(_message({"a": 2}))
    assert len(conn.queue) == 1
    assert hub.remove(conn, "prices") is True
    assert hub.topics() == {}
    assert hub.dispatch(_message({"a": 2})) == 0


def test_not_json_is_dropped_and_counted() -> None:
    hub = Hub()
    conn = _conn()
    hub.add(conn, "prices", None)
    assert hub.dispatch(Message("prices", b"\xff not json")) == 0
    assert hub.undecodable == 1
    assert not conn.queue


def test_a_full_queue_closes_only_the_slow_connection() -> None:
    hub = Hub()
    slow, fast = _conn(max_queue=2), _conn(max_queue=100)
    hub.add(slow, "prices", None)
    hub.add(fast, "prices", None)
    for i in range(5):
        hub.dispatch(_message({"i": i}))
    assert slow.closed and slow.close_code == CloseCode.SLOW_CONSUMER
    assert not fast.closed and len(fast.queue) == 5
