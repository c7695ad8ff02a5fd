"""``/ws/stream`` on uvicorn's port, without ASGI: the WebSocket protocol class.

uvicorn's ``ws`` setting takes the import string of an ``asyncio.Protocol`` class; on an
upgrade request uvicorn builds it with ``config``, ``server_state`` and ``app_state``,
hands it the transport and the request bytes. :class:`StreamSocket` answers the upgrade
with ``wsproto``'s handshake (refusals as HTTP answers in the error model: 401, 403,
404, 429, 503), parses the client's frames with ``wsproto`` and writes the server's
frames itself: pre-built bytes shared by every recipient, everything queued in one
``transport.write`` per loop turn (:mod:`access_streaming.ws.flusher`). FastAPI keeps
every HTTP route on the same port.

Back-pressure is the transport's: past its write-buffer high-water mark uvicorn's
transport calls :meth:`StreamSocket.pause_writing`; the connection's queue then fills
and runs the slow-consumer steps (conflate, gap, close 4008); a write paused longer than
``ACCESS_HEARTBEAT_TIMEOUT`` is reaped by the runtime's sweep. Protocol pings every
``ws_ping_interval``; no pong within ``ws_ping_timeout`` closes with 4002. uvicorn's
shutdown calls :meth:`StreamSocket.shutdown`: 1012, reconnect elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from wsproto import ConnectionType
from wsproto.connection import Connection as WsConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)
from wsproto.handshake import H11Handshake
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from access_common.context import (
    TraceContext,
    new_request_id,
    parse_traceparent,
    set_request_context,
)
from access_common.errors import AccessError, BadRequest, NotFound
from access_streaming.connections import CloseCode, Connection
from access_streaming.errors import ServerAtCapacity
from access_streaming.fanout import DataFrame
from access_streaming.ws.link import runtime_of
from access_streaming.ws.protocol import ClientProtocol
from access_streaming.ws.refusal import refusal

if TYPE_CHECKING:
    from access_streaming.runtime import StreamingRuntime
    from access_streaming.ws.flusher import Flusher

__all__ = ["PATH", "StreamSocket"]

logger = logging.getLogger("access_streaming.ws")

PATH = "/ws/stream"
_CLOSE_TIMEOUT = 2.0  # seconds the peer has to answer our close frame
_MAX_INBOX = 32  # client messages waiting to be handled before reading pauses
_MAX_HANDSHAKE = 16_384
_MAX_REASON = 120  # bytes of a close reason (the frame allows 123)
# A server's empty ping (FIN + ping opcode, unmasked, no payload): the same bytes every time,
# so 10,000 connections' heartbeats cost a write each, not a wsproto frame build each.
_PING = b"\x89\x00"

# Socket states, in order.
_HANDSHAKE, _ADMITTING, _OPEN, _CLOSING, _CLOSED = range(5)


class StreamSocket(asyncio.Protocol):
    """One WebSocket connection: handshake, admission, client frames, pre-built writes."""

    __slots__ = (
        "_app_state",
        "_beat",
        "_client",
        "_close_timer",
        "_connection",
        "_connections",
        "_dirty",
        "_flusher",
        "_handshake",
        "_inbox",
        "_max_size",
        "_parts",
        "_paused",
        "_ping_at",
        "_ping_interval",
        "_ping_timeout",
        "_reader",
        "_runtime",
        "_state",
        "_tasks",
        "_ws",
        "transport",
    )

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any]) -> None:
        # uvicorn's documented keyword arguments for a ``ws`` protocol class.
        self._app_state = app_state
        self._connections: set[Any] = server_state.connections
        self._tasks: set[asyncio.Task[None]] = server_state.tasks
        self._ping_interval: float | None = config.ws_ping_interval
        self._ping_timeout: float | None = config.ws_ping_timeout
        self._max_size: int = config.ws_max_size
        self._state = _HANDSHAKE
        self._handshake: H11Handshake | None = H11Handshake(ConnectionType.SERVER)
        self._ws: WsConnection | None = None
        self._runtime: StreamingRuntime | None = None
        self._connection: Connection | None = None
        self._client: ClientProtocol | None = None
        self._dirty = False
        self._flusher: Flusher | None = None
        self._paused = False
        self._parts: list[str | bytes] | None = None
        self._inbox: deque[tuple[str | None, bytes | None]] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._beat: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._ping_at = 0.0
        # Set by connection_made, before anything else is called.
        self.transport: asyncio.Transport = None  # type: ignore[assignment]

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Take the transport uvicorn upgraded; uvicorn's shutdown will find us."""
        self.transport = transport  # type: ignore[assignment]
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        """The upgrade request first, then the client's WebSocket frames."""
        if self._ws is not None:
            self._receive(data)
            return
        handshake = self._handshake
        if handshake is None or self._state != _HANDSHAKE:
            return  # a client must wait for the 101 before it sends frames
        try:
            handshake.receive_data(data)
            for event in handshake.events():
                if isinstance(event, Request):
                    self._upgrade(event)
                    return
        except RemoteProtocolError:
            self._refuse(BadRequest("Not a valid WebSocket upgrade request"), "-")
            return
        if len(data) > _MAX_HANDSHAKE:
            self._refuse(BadRequest("The upgrade request is too large"), "-")

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection: subscriptions, slots, timers (the runtime releases it)."""
        self._connections.discard(self)
        was_open = self._state == _OPEN
        self._state = _CLOSED
        for timer in (self._beat, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._beat = self._close_timer = None
        if self._reader is not None:
            self._reader.cancel()
        connection, runtime = self._connection, self._runtime
        if connection is None or runtime is None:
            return
        if was_open and not connection.closed:
            # The peer went away without a close frame: counted, not an error.
            runtime.metrics.send_errors.labels("websocket", "disconnected").inc()
        connection.close(CloseCode.NORMAL, "")
        # No reference cycles left behind: the socket and the connection let go of each other.
        connection.notify = None
        connection.writer = None
        self._connection = None
        self._client = None
        self._spawn(runtime.release(connection))

    def pause_writing(self) -> None:
        """The transport's buffer is full: stop writing; the queue's overflow steps take over."""
        self._paused = True
        if self._connection is not None:
            self._connection.writing_since = time.monotonic()

    def resume_writing(self) -> None:
        """The peer caught up: write what queued meanwhile."""
        self._paused = False
        if self._connection is not None:
            self._connection.writing_since = 0.0
            self._mark()

    # -- uvicorn ----------------------------------------------------------------------

    def shutdown(self) -> None:
        """Uvicorn is stopping: tell the client to reconnect elsewhere (1012)."""
        if self._connection is not None:
            self._connection.close(CloseCode.SERVICE_RESTART, "service restart: reconnect")
        elif self._state < _OPEN:
            self.transport.close()

    # -- Writer (the runtime's sweep) --------------------------------------------------

    def cancel(self) -> bool:
        """Drop the connection at once: the peer stopped reading."""
        self.transport.abort()
        return True

    # -- handshake --------------------------------------------------------------------

    def _upgrade(self, request: Request) -> None:
        path, _, query = request.target.partition("?")
        headers = {name.lower(): value for name, value in request.extra_headers}
        traceparent = headers.get(b"traceparent")
        trace = parse_traceparent(traceparent.decode("latin-1") if traceparent else None)
        trace = trace or TraceContext.new()
        if path != PATH:
            self._refuse(NotFound(f"No WebSocket endpoint at {path[:128]}"), trace.trace_id)
            return
        runtime = runtime_of(self._app_state)
        if runtime is None:
            starting = ServerAtCapacity(
                "The server is starting; retry shortly", headers={"Retry-After": "1"}
            )
            self._refuse(starting, trace.trace_id)
            return
        self._runtime = runtime
        token = parse_qs(query).get("token", [None])[0]
        peer = self.transport.get_extra_info("peername")
        client_ip = str(peer[0]) if isinstance(peer, tuple) else "-"
        self._state = _ADMITTING
        self._spawn(self._admit(runtime, token, client_ip, trace))

    async def _admit(
        self, runtime: StreamingRuntime, token: str | None, client_ip: str, trace: TraceContext
    ) -> None:
        set_request_context(trace, new_request_id())
        try:
            connection = await runtime.admit("websocket", token, client_ip)
        except AccessError as exc:
            runtime.metrics.refusals.labels(exc.code).inc()
            self._refuse(exc, trace.trace_id)
            return
        except Exception:
            logger.exception("websocket admission failed")
            self._refuse(AccessError(), trace.trace_id)
            return
        if self._state != _ADMITTING:
            # The peer left while it was being admitted.
            connection.close(CloseCode.NORMAL, "")
            await runtime.release(connection)
            return
        self._accept(runtime, connection)

    def _refuse(self, exc: AccessError, trace_id: str) -> None:
        """Answer the upgrade with an HTTP error in the error model, then hang up."""
        handshake, transport = self._handshake, self.transport
        self._state = _CLOSING
        if handshake is None or transport.is_closing():
            return
        data = refusal(handshake, exc, trace_id)
        self._handshake = None
        transport.write(data)
        transport.close()

    def _accept(self, runtime: StreamingRuntime, connection: Connection) -> None:
        handshake, transport = self._handshake, self.transport
        if handshake is None:
            return
        transport.write(handshake.send(AcceptConnection()))
        self._ws = handshake.connection
        self._handshake = None  # the HTTP parser is not needed any more
        self._state = _OPEN
        self._connection = connection
        self._client = ClientProtocol(runtime, connection)
        self._flusher = runtime.ws_flusher
        connection.notify = self._mark
        connection.writer = self
        if self._ping_interval:
            self._beat = asyncio.get_running_loop().call_later(self._ping_interval, self._ping)
        self._mark()  # connection_established is queued already

    # -- writing ----------------------------------------------------------------------

    def _mark(self) -> None:
        if not self._dirty and self._flusher is not None:
            self._dirty = True
            self._flusher.mark(self)

    def flush(self) -> int:
        """Write everything queued in one write; how many messages that was."""
        self._dirty = False
        connection = self._connection
        if connection is None or self._state != _OPEN:
            return 0
        if connection.closed:
            self._send_close(connection)
            return 0
        queue = connection.queue
        if self._paused or not queue or self.transport.is_closing():
            return 0
        if len(queue) == 1 and connection.dropping is None:
            # One message since the last turn (market rates per connection): no list, no join.
            self.transport.write(queue.popleft().ws_frame())
            connection.sent += 1
            return 1
        batch = connection.take_batch()
        if connection.queue:  # gaps announced by take_batch go out in the same write
            batch += connection.take_batch()
        self.transport.write(b"".join([frame.ws_frame() for frame in batch]))
        count = len(batch)
        connection.sent += count
        return count

    def first_data(self) -> DataFrame | None:
        """The first data message queued (the flusher's lag sample), or None."""
        connection = self._connection
        if connection is not None:
            for frame in connection.queue:
                if isinstance(frame, DataFrame):
                    return frame
        return None

    def _send_close(self, connection: Connection) -> None:
        """The final message (if any), then the close frame; the peer has 2 s to answer."""
        ws, transport, runtime = self._ws, self.transport, self._runtime
        if ws is None or runtime is None:
            return
        self._state = _CLOSING
        runtime.metrics.closes.labels(str(connection.close_code)).inc()
        data = connection.final.ws_frame() if connection.final is not None else b""
        reason = connection.close_reason.encode()[:_MAX_REASON].decode(errors="ignore")
        # LocalProtocolError: the peer's close arrived first and was answered.
        with contextlib.suppress(LocalProtocolError):
            data += ws.send(CloseConnection(connection.close_code, reason))
        transport.write(data)
        self._close_timer = asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT, transport.abort)

    def _ping(self) -> None:
        self._beat = None
        connection, ws, transport = self._connection, self._ws, self.transport
        if connection is None or ws is None or self._state != _OPEN:
            return
        now = time.monotonic()
        if self._ping_at:
            if now - self._ping_at >= (self._ping_timeout or 0.0):
                connection.close(CloseCode.HEARTBEAT_TIMEOUT, "no pong: peer unresponsive")
                return
        else:
            self._ping_at = now
            transport.write(_PING)
        interval = self._ping_interval or 1.0
        self._beat = asyncio.get_running_loop().call_later(interval, self._ping)

    # -- reading ----------------------------------------------------------------------

    def _receive(self, data: bytes) -> None:
        ws, transport = self._ws, self.transport
        if ws is None or ws.state is ConnectionState.CLOSED:
            return
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                self._part(
                    bytes(event.data) if isinstance(event.data, bytearray) else event.data,
                    event.message_finished,
                )
            elif isinstance(event, Ping):
                transport.write(ws.send(event.response()))
            elif isinstance(event, Pong):
                self._ping_at = 0.0
            elif isinstance(event, CloseConnection):
                self._on_close(ws, event)
                return

    def _on_close(self, ws: WsConnection, event: CloseConnection) -> None:
        transport = self.transport
        if self._state == _OPEN and ws.state in (ConnectionState.OPEN,
                                                 ConnectionState.REMOTE_CLOSING):  # fmt: skip
            self._state = _CLOSING
            transport.write(ws.send(event.response()))
            if self._connection is not None:
                self._connection.close(CloseCode.NORMAL, "")
        transport.close()

    def _part(self, data: str | bytes, finished: bool) -> None:
        parts = self._parts
        if parts is None and finished:
            self._message(data)
            return
        if parts is None:
            parts = self._parts = []
        parts.append(data)
        if sum(len(p) for p in parts) > self._max_size:
            self._parts = None
            if self._connection is not None:
                self._connection.close(CloseCode.MESSAGE_TOO_BIG, "message too big")
            return
        if finished:
            self._parts = None
            self._message(parts[0][:0].join(parts))  # type: ignore[arg-type]

    def _message(self, data: str | bytes) -> None:
        if len(data) > self._max_size:
            if self._connection is not None:
                self._connection.close(CloseCode.MESSAGE_TOO_BIG, "message too big")
            return
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = deque()
        inbox.append((data, None) if isinstance(data, str) else (None, data))
        if len(inbox) >= _MAX_INBOX:
            self.transport.pause_reading()
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._handle_inbox())

    async def _handle_inbox(self) -> None:
        """Handle client messages in order; the task ends when none are left (idle: none)."""
        try:
            while self._inbox and self._client is not None:
                text, data = self._inbox.popleft()
                await self._client.handle(text, data)
                transport = self.transport
                if not transport.is_reading() and len(self._inbox) <= _MAX_INBOX // 2:
                    transport.resume_reading()
        except Exception:
            logger.exception("a client message could not be handled")
            if self._connection is not None:
                self._connection.close(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            self._reader = None
            if not self._inbox:
                self._inbox = None

    def _spawn(self, work: Any) -> None:
        # Held in uvicorn's task set: shutdown waits for them, nothing is garbage-collected early.
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
