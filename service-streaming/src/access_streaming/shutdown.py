"""Graceful shutdown: tell clients to reconnect (1012) as soon as the signal arrives.

uvicorn waits for open connections before it runs the lifespan's shutdown, and an SSE
stream never ends by itself; so the runtime is drained from the signal itself. The
handlers uvicorn installed are wrapped (and put back afterwards), not replaced.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["drain_on_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def drain_on_signals(drain: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGINT/SIGTERM first schedule ``drain`` on the loop, then do as before."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in _SIGNALS}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(drain)
        before = previous.get(signum)
        if callable(before):
            before(signum, frame)
        elif before == signal.SIG_DFL and signum == signal.SIGINT:
            raise KeyboardInterrupt

    for sig in _SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig in _SIGNALS:
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous[sig])
