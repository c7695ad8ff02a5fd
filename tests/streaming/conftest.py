"""Cross-service streaming fixtures: the real auth app, a fake entitlements service, real buses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from asgi_lifespan import LifespanManager

from access_auth.app import create_app as create_auth_app
from access_auth.settings import AuthSettings
from access_common.backends import Bus
from access_common.backends.kafka_bus import KafkaBus
from access_common.backends.memory_bus import MemoryBus
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.backends.nats_bus import NatsBus
from access_common.backends.redis_kv import RedisKeyValue
from access_common.http import HttpClient
from access_common.lifecycle import Resources
from access_common.testing import backend_url
from access_streaming.app import create_app
from access_streaming.settings import StreamingSettings
from access_streaming.testing import (
    FakeEntitlements,
    RoutingTransport,
    StreamingServer,
    recv_type,
    registry_for,
    run_server,
    send_json,
    ws_connect,
)
from access_streaming.topics import TopicRegistry


class Mint(Protocol):
    async def __call__(
        self, sub: str, tenant: str, roles: tuple[str, ...] = ..., ttl: int = ...
    ) -> str: ...


StartStreaming = Callable[..., AbstractAsyncContextManager[StreamingServer]]


class Subscribed(Protocol):
    def __call__(
        self, server: StreamingServer, *topics: str, **options: Any
    ) -> AbstractAsyncContextManager[Any]: ...


@pytest.fixture
async def auth_app(tmp_path: Path) -> AsyncIterator[Any]:
    app = create_auth_app(AuthSettings(env="local", state_dir=tmp_path / "auth"))
    async with LifespanManager(app) as manager:
        yield manager.app


@pytest.fixture
def entitlements() -> FakeEntitlements:
    return FakeEntitlements()


@pytest.fixture
def mint(auth_app: Any) -> Mint:
    async def mint(
        sub: str, tenant: str, roles: tuple[str, ...] = ("analyst",), ttl: int = 3600
    ) -> str:
        transport = httpx.ASGITransport(auth_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            body = {"sub": sub, "tenant_id": tenant, "roles": list(roles), "ttl_seconds": ttl}
            response = await client.post("/auth/dev/token", json=body)
            assert response.status_code == 200, response.text
            return str(response.json()["access_token"])

    return mint


@pytest.fixture
def start_streaming(
    auth_app: Any, entitlements: FakeEntitlements, tmp_path: Path
) -> StartStreaming:
    """Start a streaming instance: ``async with start_streaming(registry, **settings) as s``.

    Buses: ``nats=True`` (real NATS, or ``nats_url``; else in-process), ``kafka=True`` (real
    Kafka, or ``kafka_url``);
    ``redis=True`` shares connection slots through the real Redis.
    """

    @asynccontextmanager
    async def start(
        registry: TopicRegistry,
        *,
        nats: bool = False,
        kafka: bool = False,
        redis: bool = False,
        nats_url: str | None = None,
        kafka_url: str | None = None,
        **overrides: Any,
    ) -> AsyncIterator[StreamingServer]:
        values: dict[str, Any] = {
            "env": "test",
            "state_dir": tmp_path,
            "auth_service_url": "http://auth",
            "entitlements_service_url": "http://entitlements",
            "metrics_service_url": "http://metrics",
            "connects_per_minute_per_ip": 10_000,
            "max_connections_per_user": 100,
            "max_connections_per_tenant": 1000,
        }
        values.update(overrides)
        settings = StreamingSettings(**values)
        routes = {
            "auth": httpx.ASGITransport(auth_app),
            "entitlements": httpx.MockTransport(entitlements.handler),
        }
        if nats and nats_url is None:
            nats_url = backend_url("nats")
        bus: Bus = NatsBus(nats_url) if nats_url else MemoryBus()
        if kafka and kafka_url is None:
            kafka_url = backend_url("kafka")
        resources = Resources(
            http=HttpClient(transport=RoutingTransport(routes)),
            kv=RedisKeyValue(backend_url("redis")) if redis else MemoryKeyValue(),
            bus=bus,
            kafka=KafkaBus(kafka_url) if kafka_url else None,
            peers={"auth": "http://auth", "entitlements": "http://entitlements"},
        )
        app = create_app(settings, resources=resources, registry=registry)
        async with AsyncExitStack() as stack:
            yield await stack.enter_async_context(run_server(app, settings))

    return start


@pytest.fixture
def registry() -> TopicRegistry:
    return registry_for(prices="nats", curves="nats")


@pytest.fixture
def subscribed(entitlements: FakeEntitlements, mint: Mint) -> Subscribed:
    """``async with subscribed(server, topic, ...) as ws``: alice (tenant-a, analyst), entitled
    to the topics, connected (``options`` go to ``ws_connect``), greeted and subscribed."""

    @asynccontextmanager
    async def open_subscribed(
        server: StreamingServer, *topics: str, **options: Any
    ) -> AsyncIterator[Any]:
        for topic in topics:
            entitlements.allow("tenant-a", "analyst", topic)
        token = await mint("alice", "tenant-a")
        async with await ws_connect(server, token, **options) as ws:
            await recv_type(ws, "connection_established")
            await send_json(ws, {"action": "subscribe", "data": {"topics": list(topics)}})
            await recv_type(ws, "subscribed")
            yield ws

    return open_subscribed
