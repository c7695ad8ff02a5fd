from __future__ import annotations

import orjson

from access_common.backends.bus import Message
from access_streaming.fanout import DataFrame, control
from access_streaming.fanout.frames import text_frame


def _message(value: bytes) -> Message:
    return Message("prices.v1", value, offset=42, partition=3, timestamp_ms=1705312200000)


def test_data_frame_has_the_seed_shape_and_the_data_unchanged() -> None:
    raw = b'{"instrument_id":"BRENT_CRUDE","price":75.50,"volume":1000}'
    frame = DataFrame(_message(raw), orjson.loads(raw))
    text = frame.ws_text()
    assert orjson.loads(text) == {
        "type": "data",
        "topic": "prices.v1",
        "data": {"instrument_id": "BRENT_CRUDE", "price": 75.5, "volume": 1000},
        "timestamp": 1705312200000,
        "partition": 3,
        "offset": 42,
    }
    assert raw.decode() in text  # embedded as published, not re-encoded
    wire = frame.ws_frame()
    assert wire == text_frame(text.encode())  # one unmasked text frame
    assert frame.ws_frame() is wire  # encoded once, shared by every recipient


def test_sse_event_has_an_id_and_survives_line_breaks() -> None:
    raw = b'{\n  "a": "x\\ny",\r\n  "b": 1\n}\n'
    frame = DataFrame(_message(raw), orjson.loads(raw))
    event = frame.sse_bytes()
    assert event.startswith(b"id: prices.v1:3:42\nevent: data\ndata: {")
    assert event.endswith(b"}\n\n")
    assert event.count(b"\n") == 4
    body = orjson.loads(event.split(b"data: ", 1)[1])
    assert body == {"topic": "prices.v1", "data": {"a": "x\ny", "b": 1},
                    "timestamp": 1705312200000, "partition": 3, "offset": 42}  # fmt: skip
    assert frame.sse_bytes() is event


def test_control_frames() -> None:
    frame = control("error", error="SUBSCRIPTION_DENIED", message="no", details={"topic": "t"})
    assert orjson.loads(frame.ws_text()) == {
        "type": "error", "error": "SUBSCRIPTION_DENIED", "message": "no", "details": {"topic": "t"}
    }  # fmt: skip
    body = b'{"error":"SUBSCRIPTION_DENIED","message":"no","details":{"topic":"t"}}'
    assert frame.sse_bytes() == b"event: error\ndata: " + body + b"\n\n"


def test_text_frame_lengths_follow_rfc_6455() -> None:
    assert text_frame(b"x" * 125)[:2] == b"\x81\x7d"
    assert text_frame(b"x" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert text_frame(b"x" * 65_535)[:4] == b"\x81\x7e\xff\xff"
    big = text_frame(b"x" * 65_536)
    assert big[:10] == b"\x81\x7f" + (65_536).to_bytes(8, "big")
    assert len(big) == 65_546


def test_control_frame_without_fields_and_its_wire_form() -> None:
    frame = control("unsubscribed")
    assert frame.ws_text() == '{"type":"unsubscribed"}'
    pong = control("pong", timestamp=5)
    assert pong.ws_frame() == text_frame(b'{"type":"pong","timestamp":5}')
