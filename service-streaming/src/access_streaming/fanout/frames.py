"""What connections are sent: each message encoded once, shared by every recipient.

A :class:`DataFrame` is built once per bus message and handed to every connection
whose filter matched; its WebSocket text and SSE event are encoded on first use and
then reused, so a message costs one encode per protocol however many subscribers it
has. The WebSocket form is the whole frame (header and payload, server frames are not
masked): the socket writes the bytes as they are, one ``write`` for everything queued.
The published ``data`` bytes are embedded as they are (already validated JSON), so
subscribers receive exactly the object that was published.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

from access_common.backends.bus import Message

__all__ = [
    "KEEPALIVE",
    "Comment",
    "ControlFrame",
    "DataFrame",
    "Frame",
    "SnapshotFrame",
    "control",
    "text_frame",
]

_TEXT = 0x81  # FIN + text opcode
_SHORT = struct.Struct("!BB").pack
_MEDIUM = struct.Struct("!BBH").pack
_LONG = struct.Struct("!BBQ").pack


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented WebSocket text frame (RFC 6455 5.2) carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return _SHORT(_TEXT, size) + payload
    if size < 65_536:
        return _MEDIUM(_TEXT, 126, size) + payload
    return _LONG(_TEXT, 127, size) + payload


class DataFrame:
    """One bus message as a ``data`` message, encoded lazily once per protocol.

    ``key`` is the message's conflation and snapshot key (the bus key, or the topic's
    configured payload field); a snapshot copy carries ``"snapshot": true``.
    """

    __slots__ = ("_data", "_raw", "_snapshot", "_sse", "_ws", "key", "message")

    _marker = b""

    def __init__(self, message: Message, data: Any, key: object = None) -> None:
        self.message = message
        self._data = data
        self._raw = message.value
        self.key = key
        self._ws: bytes | None = None
        self._sse: bytes | None = None
        self._snapshot: DataFrame | None = None

    @property
    def data(self) -> Any:
        """The decoded payload (filters read it)."""
        return self._data

    def as_snapshot(self) -> DataFrame:
        """The same message marked ``"snapshot": true``, built once and shared."""
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._snapshot = SnapshotFrame(self.message, self._data, self.key)
        return snapshot

    @property
    def timestamp_ms(self) -> int:
        """The produce time the bus recorded (milliseconds since the epoch)."""
        return self.message.timestamp_ms

    def _body(self, raw: bytes, *, with_type: bool) -> bytes:
        m = self.message
        head = b'{"type":"data","topic":"' if with_type else b'{"topic":"'
        return b'%s%s","data":%s,"timestamp":%d,"partition":%d,"offset":%d%s}' % (
            head,
            m.topic.encode(),
            raw,
            m.timestamp_ms,
            m.partition,
            m.offset,
            self._marker,
        )

    def ws_frame(self) -> bytes:
        """The seed 003 WebSocket ``data`` message as a complete frame, built once."""
        frame = self._ws
        if frame is None:
            frame = self._ws = text_frame(self._body(self._raw.strip(), with_type=True))
        return frame

    def ws_text(self) -> str:
        """The seed 003 WebSocket ``data`` message (the frame's payload)."""
        return self._body(self._raw.strip(), with_type=True).decode()

    def sse_bytes(self) -> bytes:
        """The SSE ``data`` event with an ``id:`` (topic:partition:offset)."""
        event = self._sse
        if event is None:
            raw = self._raw.strip()
            if b"\n" in raw or b"\r" in raw:
                # A line break would end the SSE data field: re-encode compactly.
                raw = orjson.dumps(self._data)
            m = self.message
            event = self._sse = b"id: %s:%d:%d\nevent: data\ndata: %s\n\n" % (
                m.topic.encode(),
                m.partition,
                m.offset,
                self._body(raw, with_type=False),
            )
        return event


class SnapshotFrame(DataFrame):
    """A ``data`` message sent from the snapshot on subscribe: ``"snapshot": true``."""

    __slots__ = ()

    _marker = b',"snapshot":true'


class ControlFrame:
    """A message for one connection (connection_established, pong, error): encoded at once."""

    __slots__ = ("_body", "_event", "_ws")

    timestamp_ms = 0

    def __init__(self, kind: str, body: dict[str, Any]) -> None:
        self._event = kind
        self._body = orjson.dumps(body)
        self._ws: bytes | None = None

    def ws_frame(self) -> bytes:
        """The WebSocket message as a complete frame."""
        frame = self._ws
        if frame is None:
            frame = self._ws = text_frame(self.ws_text().encode())
        return frame

    def ws_text(self) -> str:
        """The WebSocket message: the body with ``type`` first."""
        body = self._body[1:] if self._body == b"{}" else b"," + self._body[1:]
        return f'{{"type":"{self._event}"{body.decode()}'

    def sse_bytes(self) -> bytes:
        """The SSE event: ``event: <kind>`` and the body without ``type``."""
        return b"event: %s\ndata: %s\n\n" % (self._event.encode(), self._body)


class Comment:
    """An SSE comment line (keep-alive); WebSocket clients never get one."""

    __slots__ = ()

    timestamp_ms = 0

    def ws_frame(self) -> bytes:
        """Never sent on a WebSocket (protocol pings keep those alive)."""
        raise TypeError("comments exist only on SSE streams")

    def ws_text(self) -> str:
        """Never sent on a WebSocket (protocol pings keep those alive)."""
        raise TypeError("comments exist only on SSE streams")

    def sse_bytes(self) -> bytes:
        """``: keep-alive``."""
        return b": keep-alive\n\n"


KEEPALIVE = Comment()

Frame = DataFrame | ControlFrame | Comment


def control(kind: str, **body: Any) -> ControlFrame:
    """A control message of ``kind`` with the given fields."""
    return ControlFrame(kind, body)
