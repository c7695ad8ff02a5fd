"""The SSE response: an event stream fed by the connection's queue, plus keep-alives.

Written as a plain ASGI response so it can listen for the client leaving
(``http.disconnect``) while it writes: a closed browser tab frees its slot at once,
not at the next failed write. Everything queued when the writer wakes goes out in one
chunk. A comment line every ``ACCESS_SSE_KEEPALIVE_SECONDS`` keeps proxies from timing
the stream out; a write stalled longer than ``ACCESS_HEARTBEAT_TIMEOUT`` drops a dead
peer. When the server ends the stream (token expiry, restart, slow consumer) the last
event is ``close`` with the same code and reason a WebSocket would get.
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from access_streaming.connections import CloseCode, Connection
from access_streaming.runtime import StreamingRuntime

__all__ = ["SseStream"]

_KEEPALIVE = b": keep-alive\n\n"
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-store"),
    (b"x-accel-buffering", b"no"),
]
# Browsers reconnect after this many milliseconds when a stream ends.
_RETRY_MS = 2000


class SseStream(Response):
    """An event stream for one registered connection."""

    def __init__(self, runtime: StreamingRuntime, connection: Connection) -> None:
        super().__init__(status_code=200, media_type="text/event-stream")
        self._runtime = runtime
        self._connection = connection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream until the client leaves or the server closes the connection."""
        connection = self._connection
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
            listener = asyncio.create_task(self._listen(receive))
            try:
                await self._write(send)
            finally:
                listener.cancel()
        except OSError:
            self._runtime.metrics.send_errors.labels("sse", "disconnected").inc()
        finally:
            connection.close(CloseCode.NORMAL, "")
            await self._runtime.release(connection)

    async def _listen(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self._connection.close(CloseCode.NORMAL, "client left")
                return

    async def _write(self, send: Send) -> None:
        runtime = self._runtime
        connection = self._connection
        keepalive = runtime.settings.sse_keepalive_seconds
        stall = runtime.settings.heartbeat_timeout
        record = runtime.record_sent
        await send({"type": "http.response.body", "body": b"retry: %d\n\n" % _RETRY_MS,
                    "more_body": True})  # fmt: skip
        while True:
            try:
                async with asyncio.timeout(keepalive):
                    batch = await connection.next_batch()
            except TimeoutError:
                chunk = _KEEPALIVE
                batch = []
            else:
                if batch is None:
                    break
                chunk = b"".join(frame.sse_bytes() for frame in batch)
            try:
                async with asyncio.timeout(stall):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except TimeoutError:
                runtime.metrics.send_errors.labels("sse", "stalled").inc()
                connection.close(CloseCode.HEARTBEAT_TIMEOUT, "peer stopped reading")
                return
            if batch:
                record(connection, batch)
        if connection.close_reason != "client left":
            runtime.metrics.closes.labels(str(connection.close_code)).inc()
            goodbye = orjson.dumps(
                {"code": connection.close_code, "reason": connection.close_reason}
            )
            body = b"event: close\ndata: %s\n\n" % goodbye
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
