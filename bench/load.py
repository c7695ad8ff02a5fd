"""An open-loop HTTP/1.1 load generator: fixed request rate, latency from the scheduled time.

Written on raw asyncio streams (keep-alive, no client library) so the generator
costs little CPU next to the server on a 2-core machine. Latency is measured from
when a request was *due*, not when it was sent, so a stalled server cannot hide
its queueing (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["LoadResult", "run_load"]


@dataclass(slots=True)
class LoadResult:
    """What one load run measured."""

    target_rps: float
    duration: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def achieved_rps(self) -> float:
        """Completed requests per second."""
        return len(self.latencies) / self.duration if self.duration else 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))
        return ordered[index] * 1000


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def run_load(
    host: str,
    port: int,
    request: bytes | Sequence[bytes],
    *,
    rate: float,
    duration: float,
    connections: int = 32,
    warmup: float = 1.0,
) -> LoadResult:
    """Send ``request`` (raw HTTP/1.1 bytes) at ``rate``/s for ``duration`` s after a warm-up.

    A sequence of requests is sent in turn, one after the other (e.g. distinct tokens).
    """
    requests = itertools.cycle([request] if isinstance(request, bytes) else request)
    result = LoadResult(target_rps=rate, duration=duration)
    queue: asyncio.Queue[float | None] = asyncio.Queue()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (due := await queue.get()) is not None:
                try:
                    writer.write(next(requests))
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                if due >= 0:
                    result.latencies.append(time.perf_counter() - due)
                    result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    interval = 1.0 / rate
    start = time.perf_counter()
    total = int((warmup + duration) * rate)
    for i in range(total):
        due = start + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        # Warm-up requests are sent but not recorded (due < 0 marks them).
        queue.put_nowait(due if i >= warmup * rate else -1.0)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.duration = max(duration, time.perf_counter() - start - warmup)
    return result
