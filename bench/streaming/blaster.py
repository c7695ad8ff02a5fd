"""The blaster: the cheapest fan-out Python can do, to show the load tool is not the bottleneck.

It speaks what the load tool needs of seed 003 (``GET /ws/stream`` upgrade, greeting,
``subscribe``, ``POST /publish`` of ``{"topic","data"}`` or a list) on raw asyncio (uvloop),
with no framework: each published message becomes one pre-built WebSocket frame, the frames
of one publish request are joined once per topic, and the same bytes are handed to every
subscriber's transport in one write — no await, no task, no encoding per subscriber. Where
the load tool reports a rate against the blaster with its own core saturated, that is the
tool's ceiling, and any server measured well below it is not bounded by the tool.

``python -m bench.streaming.blaster --port N``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import signal
import time
from typing import Any, cast

import orjson
import uvloop

__all__ = ["Blaster", "frame", "parse_client_frames"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """One unmasked, final server frame."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return head + payload


def parse_client_frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Take every complete (masked) client frame off the front of ``buf``."""
    frames: list[tuple[int, bytes]] = []
    while len(buf) >= 2:
        opcode, masked, n = buf[0] & 0x0F, buf[1] & 0x80, buf[1] & 0x7F
        offset = 2
        if n == 126:
            if len(buf) < 4:
                break
            n, offset = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, offset = int.from_bytes(buf[2:10], "big"), 10
        mask = bytes(buf[offset : offset + 4]) if masked else b"\0\0\0\0"
        offset += 4 if masked else 0
        if len(buf) < offset + n:
            break
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(buf[offset : offset + n]))
        del buf[: offset + n]
        frames.append((opcode, payload))
    return frames


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


class Blaster:
    """The subscriber registry and the publish path."""

    def __init__(self) -> None:
        self.subscribers: dict[str, set[Connection]] = {}
        self.ids = 0

    def publish(self, body: bytes) -> bytes:
        """Build each message's frame once, then one write per subscriber per topic."""
        parsed = orjson.loads(body)
        items: list[dict[str, Any]] = parsed if isinstance(parsed, list) else [parsed]
        now_ms = int(time.time() * 1000)
        by_topic: dict[str, list[bytes]] = {}
        for item in items:
            topic = item["topic"]
            if topic in self.subscribers:
                message = {
                    "type": "data",
                    "topic": topic,
                    "data": item["data"],
                    "timestamp": now_ms,
                }
                by_topic.setdefault(topic, []).append(frame(orjson.dumps(message)))
        delivered = 0
        for topic, frames in by_topic.items():
            blob = b"".join(frames)
            subs = self.subscribers[topic]
            for conn in subs:
                conn.write(blob)
            delivered += len(frames) * len(subs)
        return orjson.dumps({"published": len(items), "delivered": delivered})

    def drop(self, conn: Connection) -> None:
        """Forget a closed connection."""
        for topic in conn.topics:
            self.subscribers.get(topic, set()).discard(conn)


class Connection(asyncio.Protocol):
    """One client: HTTP/1.1 requests until it upgrades to a WebSocket."""

    def __init__(self, server: Blaster) -> None:
        self.server = server
        self.buf = bytearray()
        self.websocket = False
        self.topics: set[str] = set()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast("asyncio.Transport", transport)

    def connection_lost(self, exc: Exception | None) -> None:
        """Leave every topic."""
        self.server.drop(self)

    def write(self, data: bytes) -> None:
        """Hand bytes to the transport (buffered by the loop when the socket is full)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        """Requests before the upgrade, frames after it."""
        self.buf += data
        if not self.websocket:
            self._http()
        if self.websocket:
            self._frames()

    def _http(self) -> None:
        while not self.websocket and (end := self.buf.find(b"\r\n\r\n")) >= 0:
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4 : end + 4 + length])
            del self.buf[: end + 4 + length]
            path = target.split("?", 1)[0]
            if path == "/ws/stream" and headers.get("upgrade", "").lower() == "websocket":
                self._upgrade(headers.get("sec-websocket-key", ""))
            elif method == "POST" and path == "/publish":
                self.write(_response("200 OK", self.server.publish(body)))
            elif path == "/health":
                self.write(_response("200 OK", b'{"service":"blaster","status":"ok"}'))
            else:
                self.write(_response("404 Not Found", b'{"code":"NOT_FOUND"}'))

    def _upgrade(self, key: str) -> None:
        accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()  # noqa: S324 - RFC 6455
        self.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        self.websocket = True
        self.server.ids += 1
        greeting = {
            "type": "connection_established",
            "connection_id": f"conn-{self.server.ids}",
            "user_id": "blaster",
            "tenant_id": "tenant-1",
        }
        self.write(frame(orjson.dumps(greeting)))

    def _frames(self) -> None:
        for opcode, payload in parse_client_frames(self.buf):
            if opcode == TEXT:
                self._action(payload)
            elif opcode == PING:
                self.write(frame(payload, PONG))
            elif opcode == CLOSE:
                self.write(frame(payload[:2], CLOSE))
                if self.transport is not None:
                    self.transport.close()

    def _action(self, payload: bytes) -> None:
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(msg, dict) or msg.get("action") != "subscribe":
            return
        data = msg.get("data")
        topics = data.get("topics") if isinstance(data, dict) else msg.get("topics")
        names = [t for t in topics or () if isinstance(t, str)]
        for topic in names:
            self.server.subscribers.setdefault(topic, set()).add(self)
            self.topics.add(topic)
        self.write(frame(orjson.dumps({"type": "subscribed", "topics": names})))


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT (a clean exit, so the GC hook writes its last numbers)."""
    blaster = Blaster()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(blaster), host, port, backlog=4096)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    """Parse the address and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
