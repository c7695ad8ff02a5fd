"""One WebSocket connection from handshake to close: admit, greet, read and write.

Refusals happen before the upgrade, as HTTP answers in the error model (401, 403, 429,
503 with ``Retry-After``) through the ASGI ``websocket.http.response`` extension; a server
without it gets a close (1008 for auth, 1013 for capacity) whose reason is the code.
After the upgrade the connection's own task reads client messages and a writer task drains
the connection's queue; when the reading ends the writer is stopped. The writer closes with the
code and reason the connection was closed with (token expiry 4001, abuse 1008, slow
consumer 4008, restart 1012). A write stalled longer than ``ACCESS_HEARTBEAT_TIMEOUT``
means a dead peer: the runtime's sweep stops the writer and the connection is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.websockets import WebSocket

from access_common.context import current_trace_id
from access_common.errors import AccessError
from access_common.responses import error_response
from access_streaming.connections import CloseCode, Connection
from access_streaming.runtime import StreamingRuntime
from access_streaming.ws.protocol import ClientProtocol

__all__ = ["serve_websocket"]

logger = logging.getLogger("access_streaming.ws")

_DENIAL = "websocket.http.response"


async def _deny(websocket: WebSocket, exc: AccessError) -> None:
    if _DENIAL in websocket.scope.get("extensions", {}):
        response = error_response(
            exc.status, exc.code, exc.message, current_trace_id(), exc.details, exc.headers
        )
        await websocket.send_denial_response(response)
        return
    code = CloseCode.TRY_AGAIN_LATER if exc.status >= 429 else CloseCode.POLICY_VIOLATION
    await websocket.close(code, exc.code)


async def _read(websocket: WebSocket, protocol: ClientProtocol) -> None:
    receive = websocket.receive
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await protocol.handle(message.get("text"), message.get("bytes"))


async def _write(runtime: StreamingRuntime, connection: Connection, websocket: WebSocket) -> None:
    send = websocket.send
    record = runtime.record_sent
    metrics = runtime.metrics
    try:
        while True:
            batch = await connection.next_batch()
            if batch is None:
                break
            connection.writing_since = time.monotonic()
            for frame in batch:
                await send({"type": "websocket.send", "text": frame.ws_text()})
            record(connection, batch)
        metrics.closes.labels(str(connection.close_code)).inc()
        final = connection.final
        if final is not None:
            await send({"type": "websocket.send", "text": final.ws_text()})
        await send(
            {
                "type": "websocket.close",
                "code": connection.close_code,
                "reason": connection.close_reason,
            }
        )
    except OSError:
        # The peer went away mid-write (uvicorn's ClientDisconnected is an OSError).
        metrics.send_errors.labels("websocket", "disconnected").inc()


async def serve_websocket(runtime: StreamingRuntime, websocket: WebSocket) -> None:
    """Run one WebSocket connection until either side closes it."""
    client = websocket.client
    try:
        connection = await runtime.admit(
            "websocket", websocket.query_params.get("token"), client.host if client else "-"
        )
    except AccessError as exc:
        runtime.metrics.refusals.labels(exc.code).inc()
        await _deny(websocket, exc)
        return
    try:
        await websocket.accept()
        protocol = ClientProtocol(runtime, connection)
        # The reader runs in this task; only the writer gets a task of its own. When the
        # server closes (writer sent the close frame), the peer's answer ends the reader.
        writer = connection.writer = asyncio.create_task(_write(runtime, connection, websocket))
        try:
            await _read(websocket, protocol)
        finally:
            connection.close(CloseCode.NORMAL, "")
            writer.cancel()
            (result,) = await asyncio.gather(writer, return_exceptions=True)
            if isinstance(result, Exception) and not isinstance(result, OSError):
                logger.error("websocket writer failed", exc_info=result)
    except OSError:
        # The peer vanished during the handshake.
        pass
    finally:
        await runtime.release(connection)
