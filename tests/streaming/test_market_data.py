"""Snapshot on subscribe, max_rate conflation, token refresh and revocation — real buses."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from access_streaming.testing import (
    FakeEntitlements,
    recv_json,
    recv_type,
    registry_for,
    send_json,
    ws_connect,
)

from .conftest import Mint, StartStreaming
from .test_resume import BUSES, assert_quiet, publisher, streaming_buses

pytestmark = pytest.mark.timeout(120)


def price(instrument: str, value: float) -> bytes:
    return orjson.dumps({"instrument": instrument, "price": value})


async def subscribe(ws: Any, topic: str, **extra: Any) -> dict[str, Any]:
    await recv_type(ws, "connection_established")
    await send_json(ws, {"action": "subscribe", "data": {"topics": [topic], **extra}})
    return await recv_type(ws, "subscribed")


@pytest.mark.parametrize("bus", BUSES)
async def test_snapshot_sends_the_last_value_per_key_first(
    bus: str, start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    registry = registry_for(prices=bus, options={"prices": {"key": "instrument", "snapshot": True}})
    (prices,) = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with publisher(bus) as pub:
        # Published before the instance runs: the snapshot comes from the log.
        for instrument, value in (("BRENT", 1), ("WTI", 10), ("BRENT", 2), ("HH", 3)):
            await pub.publish(prices, price(instrument, value))
        async with (
            start_streaming(registry, **streaming_buses(bus)) as server,
            await ws_connect(server, token) as ws,
            await ws_connect(server, token) as oil_only,
        ):
            await subscribe(ws, prices)
            snapshot = [await recv_json(ws) for _ in range(3)]
            assert all(m["type"] == "data" and m["snapshot"] is True for m in snapshot)
            assert [m["data"] for m in snapshot] == [
                {"instrument": "WTI", "price": 10},
                {"instrument": "BRENT", "price": 2},
                {"instrument": "HH", "price": 3},
            ]
            # A filter applies to the snapshot too.
            await subscribe(oil_only, prices, filters={"instrument": "BRENT"})
            only = await recv_json(oil_only)
            assert only["data"] == {"instrument": "BRENT", "price": 2} and only["snapshot"]
            await pub.publish(prices, price("BRENT", 4))
            live = await recv_type(ws, "data")
            assert live["data"] == {"instrument": "BRENT", "price": 4}
            assert "snapshot" not in live
            assert (await recv_type(oil_only, "data"))["data"]["price"] == 4
            async with httpx.AsyncClient(base_url=server.http_url) as client:
                stats = (await client.get("/stats")).json()
            assert stats["delivery"][prices]["snapshot"] == 4


@pytest.mark.parametrize("bus", BUSES)
async def test_max_rate_conflates_per_key_and_keeps_the_newest(
    bus: str, start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    registry = registry_for(prices=bus, options={"prices": {"key": "instrument"}})
    (prices,) = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    token = await mint("alice", "tenant-a")
    async with (
        publisher(bus) as pub,
        start_streaming(registry, **streaming_buses(bus)) as server,
        await ws_connect(server, token) as slow,
        await ws_connect(server, token) as full,
    ):
        assert (await subscribe(slow, prices, max_rate=2))["max_rate"] == 2
        await subscribe(full, prices)
        for value in range(20):
            await pub.publish(prices, price("BRENT", value))
            await pub.publish(prices, price("WTI", value))
        assert len([await recv_type(full, "data") for _ in range(40)]) == 40
        got: list[dict[str, Any]] = []
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.5):
                while True:
                    got.append(await recv_type(slow, "data"))
        by_key: dict[str, list[int]] = {}
        for message in got:
            by_key.setdefault(message["data"]["instrument"], []).append(message["data"]["price"])
        # At most 2/s per key (the first at once, then one per 0.5 s), newest value last.
        for values in by_key.values():
            assert 1 <= len(values) <= 5
            assert values[-1] == 19
            assert values == sorted(values)
        async with httpx.AsyncClient(base_url=server.http_url) as client:
            stats = (await client.get("/stats")).json()
        assert stats["delivery"][prices]["conflated_rate"] >= 30


@pytest.mark.nats
async def test_refresh_keeps_subscriptions_and_revocation_stops_delivery(
    start_streaming: StartStreaming, entitlements: FakeEntitlements, mint: Mint
) -> None:
    registry = registry_for(prices="nats", curves="nats")
    prices, curves = registry.names()
    entitlements.allow("tenant-a", "analyst", prices, curves)
    short = await mint("alice", "tenant-a", ttl=3)
    async with (
        publisher("nats") as pub,
        start_streaming(registry, nats=True, entitlements_recheck_seconds=0.3) as server,
        await ws_connect(server, short) as ws,
    ):
        await recv_type(ws, "connection_established")
        expiring = await recv_type(ws, "token_expiring")
        await send_json(ws, {"action": "subscribe", "data": {"topics": [prices, curves]}})
        await recv_type(ws, "subscribed")
        # Another user's token is refused; the connection stays as it was.
        mallory = await mint("mallory", "tenant-a")
        await send_json(ws, {"action": "refresh", "data": {"token": mallory}})
        assert (await recv_type(ws, "error"))["error"] == "TOKEN_SUBJECT_MISMATCH"
        fresh = await mint("alice", "tenant-a", ttl=3600)
        await send_json(ws, {"action": "refresh", "data": {"token": fresh}})
        refreshed = await recv_type(ws, "token_refreshed")
        assert refreshed["expires_at"] > expiring["expires_at"]
        await asyncio.sleep(3.5)  # past the first token's exp: still open, still subscribed
        await pub.publish(prices, price("BRENT", 1))
        assert (await recv_type(ws, "data"))["data"]["price"] == 1

        # The policy changes: curves is no longer allowed. Delivery stops at the re-check.
        entitlements.grants["tenant-a"]["analyst"].discard(f"topic:{curves}")
        revoked = await recv_type(ws, "error", within=5)
        assert revoked["error"] == "SUBSCRIPTION_REVOKED"
        assert revoked["details"] == {"topic": curves}
        await pub.publish(curves, price("C1", 1))
        await pub.publish(prices, price("BRENT", 2))
        message = await recv_type(ws, "data")
        assert message["topic"] == prices and message["data"]["price"] == 2
        await assert_quiet(ws)
