"""Streaming subscriptions decided by the real entitlements service (repo policy file)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from access_entitlements.testing import POLICY_FILE, FakeAuth, Service, running
from access_streaming.testing import recv_json, recv_type, send_json, ws_connect
from access_streaming.topics import TopicRegistry

from .conftest import Mint, StartStreaming

PRICES = "served.market.latest_prices.v1"


class RealEntitlements:
    """The real entitlements app behind the ``entitlements`` host of the test router."""

    def __init__(self, service: Service, auth: FakeAuth) -> None:
        self.service = service
        self.auth = auth
        self._transport = httpx.ASGITransport(service.app)

    async def handler(self, request: httpx.Request) -> httpx.Response:
        """Forward to the app; the body is read so the response outlives the call."""
        response = await self._transport.handle_async_request(request)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)


@pytest.fixture
async def entitlements(tmp_path: Path) -> AsyncIterator[RealEntitlements]:
    """Overrides the conftest's fake: the real service, seeded from the repo's policy."""
    auth = FakeAuth()
    async with running(tmp_path / "ent", auth, policy_file=POLICY_FILE) as service:
        yield RealEntitlements(service, auth)


@pytest.fixture
def registry() -> TopicRegistry:
    topic = {"name": PRICES, "bus": "nats", "required_role": "trader"}
    return TopicRegistry.from_dict({"topic": [topic], "default": PRICES})


async def test_dev_tenant_trader_subscribes_unknown_tenant_denied(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint
) -> None:
    trader = await mint("alice", "tenant-a", ("trader",))
    stranger = await mint("mallory", "tenant-nobody", ("trader",))
    async with start_streaming(registry) as server:
        async with await ws_connect(server, trader) as ws:
            await recv_json(ws)
            await send_json(ws, {"action": "subscribe", "data": {"topics": [PRICES]}})
            assert (await recv_type(ws, "subscribed"))["topics"] == [PRICES]
        async with await ws_connect(server, stranger) as ws:
            await recv_json(ws)
            await send_json(ws, {"action": "subscribe", "data": {"topics": [PRICES]}})
            error = await recv_type(ws, "error")
            assert error["error"] == "SUBSCRIPTION_DENIED"
        assert server.runtime.entitlements.following  # the real policy-version feed is live


async def test_a_rule_change_revokes_a_live_subscription_at_once(
    start_streaming: StartStreaming, registry: TopicRegistry, mint: Mint,
    entitlements: RealEntitlements,
) -> None:  # fmt: skip
    trader = await mint("alice", "tenant-a", ("trader",))
    # The re-check is frequent; the allow it remembers lives 30-120 s unless the
    # policy-version feed tells the client the tenant's rules changed.
    async with (
        start_streaming(registry, entitlements_recheck_seconds=0.2) as server,
        await ws_connect(server, trader) as ws,
    ):
        await recv_json(ws)
        await send_json(ws, {"action": "subscribe", "data": {"topics": [PRICES]}})
        assert (await recv_type(ws, "subscribed"))["topics"] == [PRICES]
        await asyncio.sleep(0.5)  # re-checked at least once: the allow is cached
        client = server.runtime.entitlements
        assert client.following and client.policy_version("tenant-a") == 1
        deny = {"subject": "user:alice", "action": "subscribe", "resource": "topic:*",
                "effect": "deny"}  # fmt: skip
        headers = entitlements.auth.headers("root", "tenant-a", ["admin"])
        written = await entitlements.service.http.post(
            "/entitlements/rules", json=deny, headers=headers
        )
        assert written.status_code == 201, written.text
        async with asyncio.timeout(3):
            error = await recv_type(ws, "error")
        assert error["error"] == "SUBSCRIPTION_REVOKED"
        assert error["details"]["topic"] == PRICES
