"""HTTP client candidates for the inter-service hops, measured from one uvloop event loop.

``python -m bench.http_clients URL SECONDS`` prints one JSON row per (client,
concurrency): requests/s, the process's CPU per call, the event-loop thread's share of it
(the Rust clients do their I/O on threads of their own: on two cores the total counts
too) and the median latency. It runs in a process of its own so the CPU it reads is the
clients' alone; ``bench/gateway.py`` runs it against the development upstream. Clients
that are not installed are skipped (only aiohttp, httpx and ``HttpClient`` are
dependencies; ``uv pip install aiosonic pyreqwest pyqwest httpr rnet`` adds the others).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop

__all__ = ["CLIENTS", "CLIENTS_REQUIRED", "measure"]

Get = Callable[[], Awaitable[bytes]]
Factory = Callable[[str], Awaitable[tuple[Get, Callable[[], Awaitable[None]]]]]


def _optional(module: str) -> Any:
    """A candidate that is not a dependency (ImportError when it is not installed)."""
    return importlib.import_module(module)


async def _http_client(url: str) -> tuple[Get, Callable[[], Awaitable[None]]]:
    from access_common.http import HttpClient  # noqa: PLC0415 - optional per row

    client = HttpClient(retries=0)

    async def get() -> bytes:
        return (await client.get(url)).content

    return get, client.aclose


async def _http1(url: str) -> tuple[Get, Callable[[], Awaitable[None]]]:
    from access_common._http1 import Http1Pool  # noqa: PLC0415

    pool = Http1Pool()

    async def get() -> bytes:
        return (await pool.request("GET", url, {}, None, timeout=5.0, idempotent=True))[2]

    return get, pool.aclose


async def _aiohttp(url: str) -> tuple[Get, Callable[[], Awaitable[None]]]:
    import aiohttp  # noqa: PLC0415

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
    timeout = aiohttp.ClientTimeout(total=5.0)

    async def get() -> bytes:
        async with session.get(url, timeout=timeout) as answer:
            return await answer.read()

    return get, session.close


async def _httpx(url: str) -> tuple[Get, Callable[[], Awaitable[None]]]:
    import httpx  # noqa: PLC0415

    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=200))

    async def get() -> bytes:
        return (await client.get(url)).content

    return get, client.aclose


async def _aiosonic(url: str) -> tuple[Get, Callable[[], Awaitable[None]]]:
    aiosonic = _optional("aiosonic")

    client = aiosonic.HTTPClient()

    async def get() -> bytes:
        return bytes(await (await client.get(url)).content())

    async def close() -> None:
        await client.connector.cleanup()

    return get, close


async def _pyreqwest(url: str) -> tuple[Get, Callable[[], Awaitable[None]]]:
    client = _optional("pyreqwest.client").ClientBuilder().build()

    async def get() -> bytes:
        return bytes(await (await client.get(url).build().send()).bytes())

    return get, client.close


async def _pyqwest(url: str) -> tuple[Get, Callable[[], Awaitable[None]]]:
    client = _optional("pyqwest").Client()

    async def get() -> bytes:
        return bytes((await client.get(url)).content)

    async def close() -> None:
        return None

    return get, close


async def _rnet(url: str) -> tuple[Get, Callable[[], Awaitable[None]]]:
    client = _optional("rnet").Client()

    async def get() -> bytes:
        return bytes(await (await client.get(url)).bytes())

    async def close() -> None:
        return None

    return get, close


async def _httpr(url: str) -> tuple[Get, Callable[[], Awaitable[None]]]:
    client = _optional("httpr").AsyncClient()

    async def get() -> bytes:
        return bytes((await client.get(url)).content)

    async def close() -> None:
        return None

    return get, close


CLIENTS: dict[str, Factory] = {
    "HttpClient (all of it)": _http_client,
    "httptools protocol (floor)": _http1,
    "aiohttp": _aiohttp,
    "httpx": _httpx,
    "aiosonic": _aiosonic,
    "pyreqwest": _pyreqwest,
    "pyqwest": _pyqwest,
    "rnet": _rnet,
    "httpr": _httpr,
}


# Dependencies of the project: their rows must run.
CLIENTS_REQUIRED = frozenset(list(CLIENTS)[:4])


async def _row(name: str, factory: Factory, url: str, concurrency: int, seconds: float) -> Any:
    try:
        get, close = await factory(url)
    except ImportError:
        return None
    try:
        for _ in range(20):
            await get()
        latencies: list[float] = []
        done = 0
        clock = time.perf_counter
        deadline = clock() + seconds

        async def worker() -> None:
            nonlocal done
            while (now := clock()) < deadline:
                await get()
                latencies.append(clock() - now)
                done += 1

        cpu, loop_cpu, started = time.process_time(), time.thread_time(), clock()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = clock() - started
        cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
    finally:
        await close()
    return {
        "client": name,
        "concurrency": concurrency,
        "rps": done / wall,
        "cpu_ms": cpu * 1000 / done,
        "loop_cpu_ms": loop_cpu * 1000 / done,
        "p50_ms": statistics.median(latencies) * 1000,
    }


async def measure(url: str, seconds: float, names: list[str] | None = None) -> list[Any]:
    """Every installed client at 1 and 16 concurrent calls, in this process's loop."""
    rows = []
    for concurrency in (1, 16):
        for name, factory in CLIENTS.items():
            if names and name not in names:
                continue
            try:
                row = await _row(name, factory, url, concurrency, seconds)
            except Exception as exc:  # an optional candidate's failure skips its row
                if name in CLIENTS_REQUIRED:
                    raise
                print(f"{name}: skipped ({exc!r})", file=sys.stderr)
                continue
            if row is not None:
                rows.append(row)
    return rows


if __name__ == "__main__":
    target, duration = sys.argv[1], float(sys.argv[2])
    print(json.dumps(uvloop.run(measure(target, duration, sys.argv[3:] or None))))
