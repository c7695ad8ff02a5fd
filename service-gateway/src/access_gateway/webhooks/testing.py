"""Test and benchmark helpers for webhooks: signed requests, bodies, a gateway client.

Used by the gateway's tests, the cross-service drills and bench/webhooks.py; nothing
here runs in the service itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.js.errors
import orjson
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from access_common.backends.bus import Bus, Message
from access_common.backends.kv import KeyValue
from access_common.backends.memory_bus import MemoryBus
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.http import HttpClient
from access_common.lifecycle import Resources
from access_gateway.app import create_app
from access_gateway.settings import GatewaySettings

__all__ = [
    "OLD_SECRET",
    "SECRET",
    "AppClient",
    "drop_stream",
    "gateway_client",
    "generic_body",
    "now_iso",
    "read_subject",
    "settings",
    "signed",
    "standard_signed",
    "tv_body",
    "unique_stream",
]

SECRET = "test-secret-0123456789abcdef0123456789"  # noqa: S105 - tests only
OLD_SECRET = "old-secret-0123456789abcdef0123456789"  # noqa: S105 - tests only

AppClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def now_iso() -> str:
    """The current time as seed 004's curl lines write it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tv_body(ticker: str = "EURUSD", when: str | None = None, **extra: Any) -> bytes:
    """A TradingView alert body; ``when`` defaults to a unique microsecond timestamp."""
    moment = when or datetime.now(UTC).isoformat()
    return orjson.dumps(
        {"ticker": ticker, "action": "buy", "price": 1.0945, "time": moment, **extra}
    )


def generic_body(instrument: str = "BTCUSD", when: str | None = None) -> bytes:
    """A generic signal body."""
    moment = when or datetime.now(UTC).isoformat()
    return orjson.dumps(
        {"source": "test", "instrument": instrument, "timestamp": moment, "payload": {"p": 1}}
    )


def signed(
    body: bytes,
    secret: str = SECRET,
    *,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Seed 004 headers: X-Timestamp, X-Nonce, X-Signature: sha256=<hex>."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json; charset=utf-8",
        "x-timestamp": timestamp or now_iso(),
        "x-nonce": nonce or str(uuid.uuid4()),
        "x-signature": f"sha256={digest}",
    }


def standard_signed(
    body: bytes, secret_b64: str, *, msg_id: str, timestamp: int, prefix: str = "webhook"
) -> dict[str, str]:
    """Standard Webhooks headers (``prefix="svix"`` for Svix's names)."""
    key = base64.b64decode(secret_b64.removeprefix("whsec_"))
    payload = f"{msg_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, payload, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        f"{prefix}-id": msg_id,
        f"{prefix}-timestamp": str(timestamp),
        f"{prefix}-signature": f"v1,{signature}",
    }


def settings(tmp_path: Path, **overrides: Any) -> GatewaySettings:
    """Test settings: env test, this test's secret, peers pointing nowhere."""
    values: dict[str, Any] = {
        "env": "test",
        "state_dir": tmp_path,
        "api_key_hmac_secret": SECRET,
        "webhook_kv_prefix": f"wh-{uuid.uuid4().hex[:12]}",
        "webhook_rate_limit_rps": None,
        "auth_service_url": "http://127.0.0.1:9",
        "entitlements_service_url": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return GatewaySettings(**values)


@asynccontextmanager
async def gateway_client(
    config: GatewaySettings,
    *,
    kv: KeyValue | None = None,
    bus: Bus | None = None,
    client: tuple[str, int] = ("127.0.0.1", 50000),
) -> AsyncIterator[httpx.AsyncClient]:
    """A started gateway app and an HTTP client on it (ASGI transport)."""
    resources = Resources(
        http=HttpClient.from_settings(config), kv=kv or MemoryKeyValue(), bus=bus or MemoryBus()
    )
    app: FastAPI = create_app(config, resources=resources)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            yield http


def unique_stream(tmp_path: Path, nats_url: str, **overrides: Any) -> GatewaySettings:
    """Settings on a real NATS with a stream and subjects no other test uses."""
    tag = uuid.uuid4().hex[:12]
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "webhook_nats_stream": f"whtest-{tag}",
        "webhook_subject_raw": f"whtest{tag}.raw",
        "webhook_subject_normalized": f"whtest{tag}.normalized",
        "webhook_buffer_wait_sec": 2.0,
        "webhook_retry_after_sec": 1,
    }
    values.update(overrides)
    return settings(tmp_path, **values)


async def read_subject(bus: Bus, subject: str, *, idle: float = 1.0) -> list[Message]:
    """Every message stored on ``subject``, read from the start until ``idle`` s of silence."""
    messages: list[Message] = []
    async with await bus.subscribe([subject], start="earliest") as subscription:
        iterator = aiter(subscription)
        while True:
            try:
                messages.append(await asyncio.wait_for(anext(iterator), idle))
            except TimeoutError:
                return messages


async def drop_stream(nats_url: str, stream: str) -> None:
    """Delete a test's stream from the shared NATS (never anyone else's)."""
    nc = await nats.connect(nats_url, connect_timeout=2, allow_reconnect=False)
    try:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()
