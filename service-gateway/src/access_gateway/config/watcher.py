"""Reload the route table and rate-limit files on change (polled) and on SIGHUP.

A reload builds new tables and swaps references; requests in flight finish with the
tables they started with, so nothing is dropped. An invalid file is refused and the
current configuration stays (logged, counted in ``gateway_config_reloads_total``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from pathlib import Path

__all__ = ["ConfigWatcher"]

logger = logging.getLogger("access_gateway.config")

_Stamp = tuple[int, int] | None


def _stamp(path: Path) -> _Stamp:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


class ConfigWatcher:
    """Call ``reload`` when a watched file changes or the process gets SIGHUP."""

    def __init__(
        self, files: Callable[[], dict[str, Path]], reload: Callable[[], bool], interval: float
    ) -> None:
        self._files = files
        self._reload = reload
        self._interval = interval
        self._stamps = {name: _stamp(path) for name, path in files().items()}
        self._task: asyncio.Task[None] | None = None
        self._sighup = False

    def start(self) -> None:
        """Start polling (when an interval is set) and listen for SIGHUP."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            # Only the main thread of a process may install signal handlers.
            loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
            self._sighup = True
        if self._interval > 0 and self._stamps:
            self._task = asyncio.create_task(self._poll(), name="config-watcher")

    def _on_sighup(self) -> None:
        logger.info("SIGHUP: reloading configuration")
        self.reload_now()

    def reload_now(self) -> bool:
        """Reload at once (SIGHUP, tests); True when the new configuration was applied."""
        self._stamps = {name: _stamp(path) for name, path in self._files().items()}
        return self._reload()

    def changed(self) -> bool:
        """True when a watched file's modification time or size moved since last seen."""
        current = {name: _stamp(path) for name, path in self._files().items()}
        return current != self._stamps

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if self.changed():
                self.reload_now()

    async def aclose(self) -> None:
        """Stop polling and listening."""
        if self._sighup:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
