"""Traffic a running stack (stack.running_stack) serves: tokens, signed webhooks, subscribers.

scripts/smoke.py does the same against `make run`; it is not importable from tests
(scripts/ is not a package on the path), hence the few lines repeated here.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import websockets

from .stack import WEBHOOK_SECRET

__all__ = ["SIGNAL_TOPIC", "dev_token", "post_webhook", "receive_marker", "subscribed_socket"]

# Where a webhook accepted by the gateway is delivered to subscribers (seed 004).
SIGNAL_TOPIC = "signals.normalized"


def dev_token(client: httpx.Client, auth_url: str, tenant: str = "tenant-a") -> str:
    """A token of auth's dev issuer (ACCESS_ENV=local) for a trader of ``tenant``."""
    response = client.post(
        f"{auth_url}/auth/dev/token",
        json={"sub": f"obs-{uuid.uuid4().hex[:8]}", "tenant_id": tenant, "roles": ["trader"]},
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def post_webhook(
    client: httpx.Client, gateway_url: str, marker: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """One signed webhook (seed 004's generic shape and HMAC headers) carrying ``marker``."""
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    body = orjson.dumps(
        {
            "source": "observability",
            "instrument": "BRENT",
            "timestamp": now,
            "payload": {"action": "buy", "price": 75.5, "id": marker},
        }
    )
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    signed = {
        "Content-Type": "application/json",
        "X-Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "X-Nonce": str(uuid.uuid4()),
        "X-Signature": f"sha256={digest}",
        **(headers or {}),
    }
    return client.post(f"{gateway_url}/webhook/generic", content=body, headers=signed)


async def subscribed_socket(
    streaming_url: str, token: str, topics: list[str]
) -> websockets.ClientConnection:
    """A WebSocket to streaming, subscribed to ``topics`` (the caller closes it)."""
    url = streaming_url.replace("http", "ws", 1) + f"/ws/stream?token={token}"
    socket = await websockets.connect(url, open_timeout=10)
    hello = orjson.loads(await socket.recv())
    assert hello.get("type") == "connection_established", hello
    await socket.send(orjson.dumps({"action": "subscribe", "data": {"topics": topics}}).decode())
    await asyncio.sleep(0.5)  # the subscription reaches the bus before anything is published
    return socket


async def receive_marker(socket: websockets.ClientConnection, marker: str) -> dict[str, Any]:
    """The first data message that carries ``marker``."""
    while True:
        message: dict[str, Any] = orjson.loads(await socket.recv())
        assert message.get("type") != "error", message
        if message.get("type") == "data" and marker in orjson.dumps(message).decode():
            return message
