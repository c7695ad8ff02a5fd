"""Traffic a running stack (stack.running_stack) serves: tokens, signed webhooks, subscribers.

scripts/smoke.py does the same against `make run`; it is not importable from tests
(scripts/ is not a package on the path), hence the few lines repeated here.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from websockets.sync.client import ClientConnection, connect

from .stack import WEBHOOK_SECRET

__all__ = ["SIGNAL_TOPIC", "dev_token", "post_webhook", "receive_marker", "subscribed_socket"]

# Where a webhook accepted by the gateway is delivered to subscribers (seed 004).
SIGNAL_TOPIC = "signals.normalized"


def dev_token(
    client: httpx.Client, auth_url: str, tenant: str = "tenant-a", roles: list[str] | None = None
) -> str:
    """A token of auth's dev issuer (ACCESS_ENV=local), a trader of ``tenant`` by default."""
    response = client.post(
        f"{auth_url}/auth/dev/token",
        json={"sub": f"obs-{uuid.uuid4().hex[:8]}", "tenant_id": tenant,
              "roles": roles or ["trader"]},
    )  # fmt: skip
    response.raise_for_status()
    return str(response.json()["access_token"])


def post_webhook(
    client: httpx.Client,
    gateway_url: str,
    marker: str,
    headers: dict[str, str] | None = None,
    *,
    body: bytes | None = None,
) -> httpx.Response:
    """One signed webhook (seed 004's generic shape and HMAC headers) carrying ``marker``.

    A fresh timestamp keeps its idempotency key new; pass ``body`` to send one twice.
    """
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    body = body or orjson.dumps(
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


@contextmanager
def subscribed_socket(
    streaming_url: str, token: str, topics: list[str]
) -> Iterator[ClientConnection]:
    """A WebSocket to streaming, subscribed to ``topics``, closed when the block ends."""
    url = streaming_url.replace("http", "ws", 1) + f"/ws/stream?token={token}"
    # No cap on messages waiting to be read: a test reading only at the end must not make
    # the client stop reading the socket (its pongs, then the connection, would be lost).
    with connect(url, open_timeout=10, max_queue=None) as socket:
        hello = orjson.loads(socket.recv(timeout=10))
        assert hello.get("type") == "connection_established", hello
        socket.send(orjson.dumps({"action": "subscribe", "data": {"topics": topics}}).decode())
        time.sleep(0.5)  # the subscription reaches the bus before anything is published
        yield socket


def receive_marker(socket: ClientConnection, marker: str, timeout: float = 15) -> dict[str, Any]:
    """The first data message that carries ``marker`` (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message: dict[str, Any] = orjson.loads(socket.recv(timeout=deadline - time.monotonic()))
        assert message.get("type") != "error", message
        if message.get("type") == "data" and marker in orjson.dumps(message).decode():
            return message
