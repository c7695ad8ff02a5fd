"""The SSE response: an event stream fed by the connection's queue.

Written as a plain ASGI response so it can listen for the client leaving
(``http.disconnect``) while it writes: a closed browser tab frees its slot at once,
not at the next failed write. A writer task and a listener task run side by side; when
either ends the other is stopped. Everything queued when the writer wakes goes out in
one chunk. Keep-alive comments (every ``ACCESS_SSE_KEEPALIVE_SECONDS`` of silence) and the
reaping of a writer stalled longer than ``ACCESS_HEARTBEAT_TIMEOUT`` come from the
runtime's once-a-second sweep. When the server ends the stream (token expiry, restart,
slow consumer) the last event is ``close`` with the code and reason a WebSocket would get.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from access_streaming.connections import CloseCode, Connection
from access_streaming.runtime import StreamingRuntime

__all__ = ["SseStream"]

logger = logging.getLogger("access_streaming.sse")

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-store"),
    (b"x-accel-buffering", b"no"),
]
# Browsers reconnect after this many milliseconds when a stream ends.
_RETRY_MS = 2000
_CLIENT_LEFT = "client left"


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
            writer = connection.writer = asyncio.create_task(self._write(send))
            try:
                await asyncio.wait((listener, writer), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (listener, writer):
                    task.cancel()
                for result in await asyncio.gather(listener, writer, return_exceptions=True):
                    if isinstance(result, OSError):
                        self._runtime.metrics.send_errors.labels("sse", "disconnected").inc()
                    elif isinstance(result, Exception):
                        logger.error("sse task failed", exc_info=result)
        except OSError:
            self._runtime.metrics.send_errors.labels("sse", "disconnected").inc()
        finally:
            connection.close(CloseCode.NORMAL, "")
            await self._runtime.release(connection)

    async def _listen(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self._connection.close(CloseCode.NORMAL, _CLIENT_LEFT)
                return

    async def _write(self, send: Send) -> None:
        runtime = self._runtime
        connection = self._connection
        record = runtime.record_sent
        first = b"retry: %d\n\n" % _RETRY_MS
        await send({"type": "http.response.body", "body": first, "more_body": True})
        while True:
            batch = await connection.next_batch()
            if batch is None:
                break
            connection.writing_since = time.monotonic()
            chunk = b"".join(frame.sse_bytes() for frame in batch)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            record(connection, batch)
        if connection.close_reason == _CLIENT_LEFT:
            return
        runtime.metrics.closes.labels(str(connection.close_code)).inc()
        goodbye = orjson.dumps({"code": connection.close_code, "reason": connection.close_reason})
        body = b"event: close\ndata: %s\n\n" % goodbye
        if connection.final is not None:
            body = connection.final.sse_bytes() + body
        await send({"type": "http.response.body", "body": body, "more_body": False})
