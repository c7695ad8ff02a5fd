"""Backends failing: the store fails closed (GW-013), a full buffer refuses at once (GW-005)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from access_common.backends.kv import ClaimEntry, MultiClaim
from access_common.backends.memory_bus import MemoryBus
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.errors import BackendError
from access_gateway.webhooks.testing import AppClient, signed, tv_body


class DownKeyValue(MemoryKeyValue):
    """A key-value store whose server is gone."""

    down = False

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        if self.down:
            raise BackendError("redis down")
        return await super().set_if_absent(key, value, ttl=ttl)

    async def set_many_if_absent(self, entries: Sequence[ClaimEntry]) -> list[bool]:
        if self.down:
            raise BackendError("redis down")
        return await super().set_many_if_absent(entries)


class ControlledBus(MemoryBus):
    """Fails publishes while ``fail`` is set; with ``hold``, acks only once released."""

    def __init__(self, *, hold: bool = False) -> None:
        super().__init__()
        self.release = asyncio.Event()
        if not hold:
            self.release.set()
        self.fail = False
        self.waiting = 0

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        if self.fail:
            raise BackendError("nats hiccup")
        self.waiting += 1
        await self.release.wait()
        return await super().publish(topic, value, key=key, headers=headers)


async def test_store_down_fails_closed_then_recovers(make_client: AppClient) -> None:
    kv = DownKeyValue()
    body = tv_body()
    headers = signed(body)
    async with make_client(kv=kv) as client:
        kv.down = True
        refused = await client.post("/webhook/tradingview", content=body, headers=headers)
        kv.down = False
        accepted = await client.post("/webhook/tradingview", content=body, headers=headers)
    assert refused.status_code == 503
    assert refused.json()["code"] == "GW-013"
    assert int(refused.headers["retry-after"]) >= 1
    # The identical request (same nonce) goes through once the store is back.
    assert accepted.status_code == 202


async def test_full_buffer_refuses_at_once(make_client: AppClient) -> None:
    bus = ControlledBus(hold=True)
    async with make_client(bus=bus, webhook_buffer_max=3) as client:
        bodies = [tv_body(ticker=f"B{i}") for i in range(3)]
        pending = [
            asyncio.create_task(client.post("/webhook/tradingview", content=b, headers=signed(b)))
            for b in bodies
        ]
        while bus.waiting < 2 * len(bodies):  # both subjects of each signal
            await asyncio.sleep(0.01)
        extra = tv_body(ticker="EXTRA")
        refused = await client.post("/webhook/tradingview", content=extra, headers=signed(extra))
        bus.release.set()
        answers = await asyncio.gather(*pending)
        metrics = (await client.get("/metrics")).text
    assert refused.status_code == 503
    assert refused.json()["code"] == "GW-005"
    assert refused.json()["details"]["reason"] == "backpressure"
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert "gateway_backpressure_total 1.0" in metrics


async def test_failed_publish_is_gw005_and_healthz_degraded(make_client: AppClient) -> None:
    bus = ControlledBus()
    bus.fail = True
    body = tv_body()
    headers = signed(body)
    async with make_client(bus=bus) as client:
        refused = await client.post("/webhook/tradingview", content=body, headers=headers)
        health = await client.get("/healthz")
        bus.fail = False
        retried = await client.post("/webhook/tradingview", content=body, headers=headers)
        metrics = (await client.get("/metrics")).text
    assert (refused.status_code, refused.json()["code"]) == (503, "GW-005")
    assert int(refused.headers["retry-after"]) >= 1
    assert (health.status_code, health.json()["nats"], health.json()["ok"]) == (
        200,
        "degraded",
        True,
    )
    # Nonce and idempotency key were given back: the identical retry is accepted.
    assert retried.status_code == 202
    assert 'gateway_nats_publish_total{status="error"} 2.0' in metrics
    assert 'gateway_nats_errors_total{type="publish"} 1.0' in metrics


async def test_duplicate_in_flight_can_be_retried_as_is(make_client: AppClient) -> None:
    bus = ControlledBus(hold=True)
    body = tv_body()
    async with make_client(bus=bus) as client:
        first = asyncio.create_task(
            client.post("/webhook/tradingview", content=body, headers=signed(body))
        )
        while bus.waiting < 2:
            await asyncio.sleep(0.01)
        second_headers = signed(body)
        racing = await client.post("/webhook/tradingview", content=body, headers=second_headers)
        bus.release.set()
        assert (await first).status_code == 202
        retried = await client.post("/webhook/tradingview", content=body, headers=second_headers)
    assert racing.status_code == 409
    assert racing.json()["details"]["state"] == "in_flight"
    assert racing.headers["retry-after"] == "1"
    # Its nonce was given back: the identical retry learns the signal was accepted.
    assert retried.json()["details"]["state"] == "accepted"


class OneByOneKeyValue(MemoryKeyValue):
    """A store without the one-round-trip claim: the service claims key by key."""

    set_many_if_absent = None  # type: ignore[assignment]


async def test_claims_key_by_key_without_multi_claim(make_client: AppClient) -> None:
    body = tv_body()
    headers = signed(body)
    assert not isinstance(OneByOneKeyValue(), MultiClaim)
    async with make_client(kv=OneByOneKeyValue()) as client:
        first = await client.post("/webhook/tradingview", content=body, headers=headers)
        replay = await client.post("/webhook/tradingview", content=body, headers=headers)
        resent = await client.post("/webhook/tradingview", content=body, headers=signed(body))
    assert first.status_code == 202, first.text
    assert replay.json()["details"]["reason"] == "nonce_reused"
    assert resent.status_code == 409 and resent.json()["code"] == "GW-006"
