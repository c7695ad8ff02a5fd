"""Test helpers: a streaming server on a free port, a fake entitlements service, clients.

Used by the service's tests and the cross-service tests in ``tests/streaming``; nothing
here runs in the service itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import uvicorn
from fastapi import FastAPI

from access_common.testing import free_port
from access_streaming.main import uvicorn_options
from access_streaming.runtime import StreamingRuntime
from access_streaming.settings import StreamingSettings
from access_streaming.topics import TopicRegistry

__all__ = [
    "FakeEntitlements",
    "RoutingTransport",
    "SseEvent",
    "StreamingServer",
    "read_sse",
    "recv_json",
    "recv_type",
    "registry_for",
    "run_server",
    "send_json",
    "ws_connect",
]


def registry_for(
    *, options: Mapping[str, Mapping[str, Any]] | None = None, **topics: str
) -> TopicRegistry:
    """A registry of fresh topics: ``registry_for(prices="kafka")`` → ``streamtest.<run>.prices``.

    ``options={"prices": {"key": "instrument", "snapshot": True}}`` adds registry fields.
    Names are unique per call, so tests never share a topic; on NATS they all live in one
    stream (``ACCESS_STREAMTEST``) instead of one stream per test.
    """
    run = uuid.uuid4().hex[:12]
    entries = [
        {
            "name": f"streamtest.{run}.{label}",
            "bus": bus,
            "required_role": "analyst",
            **(options or {}).get(label, {}),
        }
        for label, bus in topics.items()
    ]
    return TopicRegistry.from_dict({"topic": entries, "default": entries[0]["name"]})


@dataclass
class FakeEntitlements:
    """``/entitlements/check-batch`` for ``httpx.MockTransport``: allow by tenant and role.

    ``grants[tenant][role]`` is the set of resources that role may ``subscribe`` to.
    Set ``down`` to answer 503.
    """

    grants: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    down: bool = False
    calls: int = 0

    def allow(self, tenant: str, role: str, *topics: str) -> None:
        """Let ``role`` in ``tenant`` subscribe to the topics."""
        resources = self.grants.setdefault(tenant, {}).setdefault(role, set())
        resources.update(f"topic:{topic}" for topic in topics)

    async def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request like the entitlements service does."""
        if request.url.path.startswith("/health"):
            return httpx.Response(200, json={"status": "ok"})
        if request.url.path.endswith("/policy-versions"):
            # The runtime's long poll: no change, ever (not counted as a check).
            if "cursor" in request.url.params:
                await asyncio.sleep(float(request.url.params.get("wait", "1")))
            return httpx.Response(200, json={"cursor": "0", "full": True, "versions": {}})
        self.calls += 1
        if self.down:
            return httpx.Response(503, json={"code": "BACKEND_UNAVAILABLE", "message": "down"})
        body = orjson.loads(request.content)
        by_role = self.grants.get(body["tenant_id"], {})
        decisions = []
        for check in body["checks"]:
            allowed = check["action"] == "subscribe" and any(
                check["resource"] in by_role.get(role, set()) for role in body["roles"]
            )
            decisions.append(
                {"allow": allowed, "ttl_seconds": 0, "reason": "granted" if allowed else "no rule"}
            )
        return httpx.Response(200, json={"policy_version": 1, "decisions": decisions})


class RoutingTransport(httpx.AsyncBaseTransport):
    """Send each request to the transport registered for its host (``http://auth`` …)."""

    def __init__(self, routes: Mapping[str, httpx.AsyncBaseTransport]) -> None:
        self._routes = dict(routes)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Dispatch by host; unknown hosts fail like an unreachable peer."""
        transport = self._routes.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError("no route", request=request)
        return await transport.handle_async_request(request)


@dataclass
class StreamingServer:
    """A streaming app served by uvicorn on 127.0.0.1:<port>."""

    app: FastAPI
    port: int

    @property
    def runtime(self) -> StreamingRuntime:
        """The running instance's runtime."""
        runtime: StreamingRuntime = self.app.state.streaming
        return runtime

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, token: str | None) -> str:
        """The WebSocket URL with the token in the query."""
        query = f"?token={token}" if token is not None else ""
        return f"ws://127.0.0.1:{self.port}/ws/stream{query}"


@asynccontextmanager
async def run_server(app: FastAPI, settings: StreamingSettings) -> AsyncIterator[StreamingServer]:
    """Serve the app with the service's uvicorn options until the block ends."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on",
        timeout_graceful_shutdown=2, **uvicorn_options(settings),
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped during start")
            await asyncio.sleep(0.02)
        yield StreamingServer(app, port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@dataclass
class SseEvent:
    """One server-sent event."""

    event: str
    data: Any
    id: str | None = None


async def read_sse(lines: AsyncIterator[str]) -> AsyncIterator[SseEvent]:
    """Parse ``text/event-stream`` lines into events (comments and retry lines skipped)."""
    event: str = "message"
    data: list[str] = []
    ident: str | None = None
    async for line in lines:
        if line == "":
            if data:
                yield SseEvent(event, orjson.loads("\n".join(data)), ident)
            event, data, ident = "message", [], None
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                ident = value


async def ws_connect(server: StreamingServer, token: str | None, **options: Any) -> Any:
    """Open a WebSocket (no proxy, no compression); the greeting is left unread."""
    from websockets.asyncio.client import connect  # noqa: PLC0415 - client side only

    options.setdefault("proxy", None)
    options.setdefault("compression", None)
    options.setdefault("max_queue", None)
    return await connect(server.ws_url(token), **options)


async def recv_json(websocket: Any, within: float = 5.0) -> dict[str, Any]:
    """The next message as JSON, within ``within`` seconds."""
    async with asyncio.timeout(within):
        message: dict[str, Any] = orjson.loads(await websocket.recv())
    return message


async def recv_type(websocket: Any, kind: str, within: float = 5.0) -> dict[str, Any]:
    """The next message of type ``kind``, skipping others, within ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            message = await recv_json(websocket, within)
            if message.get("type") == kind:
                return message


async def send_json(websocket: Any, message: object) -> None:
    """Send a JSON text frame."""
    await websocket.send(orjson.dumps(message).decode())
