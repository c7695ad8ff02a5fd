"""One flush per event-loop turn for every WebSocket with something to send.

``Connection.push`` marks its socket dirty; the first mark of a turn schedules one
``loop.call_soon`` for all of them (no task, no await, no handle per connection). The
flush writes each socket's queued pre-built frames with one ``transport.write`` — as many
frames as queued up during the turn, one syscall — and accounts the whole turn at once:
one counter increment, one lag sample, instead of one per connection. Nothing is
allocated per socket (a lone queued frame is written as it is), so the flush of a busy
turn feeds the garbage collector's young generation nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from access_streaming.fanout import DataFrame

if TYPE_CHECKING:
    from access_streaming.runtime import StreamingRuntime
    from access_streaming.ws.socket import StreamSocket

__all__ = ["Flusher"]

logger = logging.getLogger("access_streaming.ws")


class Flusher:
    """The dirty sockets of one event loop and the callback that writes them out."""

    __slots__ = ("_dirty", "_runtime", "_scheduled")

    def __init__(self, runtime: StreamingRuntime) -> None:
        self._runtime = runtime
        self._dirty: list[StreamSocket] = []
        self._scheduled = False

    def mark(self, socket: StreamSocket) -> None:
        """Queue the socket for this turn's flush (the caller marks it only once)."""
        self._dirty.append(socket)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        sent = 0
        # The lag sample: the first data message of the turn (the first socket marked was
        # the first pushed to), looked up only until one is found, not once per socket.
        first: DataFrame | None = None
        for socket in dirty:
            if first is None:
                first = socket.first_data()
            try:
                sent += socket.flush()
            except Exception:
                # A bug in one socket must not leave the others of this turn unwritten.
                logger.exception("websocket flush failed")
        if sent:
            self._runtime.record_websocket_sent(sent, first, time.monotonic())
