"""Seed 004's five on-call drills as tests, against real NATS JetStream (and Redis).

1. a burst of 50 invalid signatures: all 401 GW-001, counted, service unaffected;
2. NATS stopped during traffic: 503 GW-005, no crash, nothing acknowledged is missing,
   recovery within seconds of NATS returning;
3. twice the rate limit: a mix of 202 and 429 with Retry-After;
4. maintenance mode: 503 GW-011 with Retry-After;
5. key rotation: old and new secrets during the overlap, the old refused after.
Plus: under concurrent senders and two gateway replicas sharing Redis, every accepted
signal is in the stream exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from access_common.backends.nats_bus import NatsBus
from access_common.backends.redis_kv import RedisKeyValue
from access_common.testing import backend_url, nats_server, redis_server
from access_gateway.settings import GatewaySettings
from access_gateway.webhooks.testing import (
    OLD_SECRET,
    SECRET,
    drop_stream,
    gateway_client,
    read_subject,
    signed,
    tv_body,
    unique_stream,
)

pytestmark = [pytest.mark.nats, pytest.mark.timeout(180)]


@pytest.fixture
async def config(tmp_path: Path) -> AsyncIterator[GatewaySettings]:
    url = backend_url("nats")
    settings = unique_stream(tmp_path, url)
    yield settings
    await drop_stream(url, settings.webhook_nats_stream)


def _nats(config: GatewaySettings) -> NatsBus:
    assert config.nats_url is not None
    return NatsBus(config.nats_url, timeout=config.webhook_buffer_wait_sec)


async def _stored_ids(config: GatewaySettings, subject: str) -> list[str]:
    bus = _nats(config)
    try:
        messages = await read_subject(bus, subject)
    finally:
        await bus.close()
    return [m.headers["Signal-Id"] for m in messages]


async def test_drill_1_invalid_signature_burst(config: GatewaySettings) -> None:
    async with gateway_client(config, bus=_nats(config)) as client:

        async def forged() -> httpx.Response:
            body = b"{}"
            headers = signed(body) | {"x-signature": "sha256=invalid-signature"}
            return await client.post("/webhook/tradingview", content=body, headers=headers)

        responses = await asyncio.gather(*(forged() for _ in range(50)))
        metrics = (await client.get("/metrics")).text
        body = tv_body()
        after = await client.post("/webhook/tradingview", content=body, headers=signed(body))
        health = await client.get("/healthz")
    assert {(r.status_code, r.json()["code"]) for r in responses} == {(401, "GW-001")}
    assert 'gateway_validation_errors_total{type="signature"} 50.0' in metrics
    assert 'gateway_webhooks_received_total{source="tradingview",status="4xx"} 50.0' in metrics
    assert after.status_code == 202
    assert health.json()["ok"] is True


async def test_drill_2_nats_outage_loses_nothing(tmp_path: Path) -> None:
    server = nats_server(tmp_path / "js")
    server.start()
    config = unique_stream(tmp_path, f"nats://127.0.0.1:{server.port}")
    accepted: list[str] = []
    refusals: Counter[str] = Counter()
    stop = asyncio.Event()
    try:
        async with gateway_client(config, bus=_nats(config)) as client:

            async def sender() -> None:
                while not stop.is_set():
                    body = tv_body(ticker=f"S{uuid.uuid4().hex[:6]}")
                    headers = signed(body)
                    # Retry the identical request (same nonce) until it is accepted.
                    while True:
                        response = await client.post(
                            "/webhook/tradingview", content=body, headers=headers
                        )
                        if response.status_code == 202:
                            accepted.append(response.json()["id"])
                            break
                        code = response.json()["code"]
                        refusals[code] += 1
                        assert code == "GW-005", response.text
                        assert int(response.headers["retry-after"]) >= 1
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(0.02)

            senders = [asyncio.create_task(sender()) for _ in range(4)]
            await asyncio.sleep(1.0)
            before_outage = len(accepted)
            assert before_outage > 0
            server.stop()
            await asyncio.sleep(3.0)
            health = await client.get("/healthz")
            assert (health.status_code, health.json()["nats"]) == (503, "disconnected")
            # REST does not need NATS: the pod stays ready; /health names the outage.
            assert (await client.get("/health/ready")).status_code == 200
            assert (await client.get("/health")).json()["dependencies"]["nats"] == "down"
            assert refusals["GW-005"] > 0
            await asyncio.to_thread(server.start)
            returned = asyncio.get_running_loop().time()
            count = len(accepted)
            while len(accepted) == count:
                await asyncio.sleep(0.1)
                assert asyncio.get_running_loop().time() - returned < 10, "no recovery"
            recovery = asyncio.get_running_loop().time() - returned
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*senders)
            assert (await client.get("/healthz")).json()["ok"] is True
            metrics = (await client.get("/metrics")).text
        assert recovery < 10
        assert 'gateway_nats_publish_total{status="error"}' in metrics
        stored_raw = await _stored_ids(config, config.webhook_subject_raw)
        stored_normalized = await _stored_ids(config, config.webhook_subject_normalized)
        # Every acknowledged signal is stored, once, on both subjects.
        assert sorted(stored_raw) == sorted(accepted)
        assert sorted(stored_normalized) == sorted(accepted)
    finally:
        stop.set()
        server.close()


async def test_drill_3_twice_the_limit(config: GatewaySettings) -> None:
    limited = config.model_copy(update={"webhook_rate_limit_rps": 10})
    async with gateway_client(limited, bus=_nats(config)) as client:

        async def one() -> httpx.Response:
            body = tv_body(ticker=f"R{uuid.uuid4().hex[:6]}")
            return await client.post("/webhook/tradingview", content=body, headers=signed(body))

        responses = await asyncio.gather(*(one() for _ in range(20)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses[202] >= 1 and statuses[429] >= 1
    assert statuses[202] + statuses[429] == 20
    assert statuses[202] <= 10 * 2  # at most two one-second windows' worth
    for response in responses:
        if response.status_code == 429:
            assert response.json()["code"] == "GW-004"
            assert int(response.headers["retry-after"]) >= 1


async def test_drill_4_maintenance_mode(config: GatewaySettings) -> None:
    maintenance = config.model_copy(update={"webhook_maintenance_mode": True})
    async with gateway_client(maintenance, bus=_nats(config)) as client:
        response = await client.post(
            "/webhook/tradingview", content=b"{}", headers={"content-type": "application/json"}
        )
        health = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["code"] == "GW-011"
    assert int(response.headers["retry-after"]) > 0
    assert health.status_code == 200


async def test_drill_5_key_rotation(config: GatewaySettings) -> None:
    overlap = config.model_copy(update={"api_key_hmac_secret": SecretStr(f"{OLD_SECRET},{SECRET}")})
    async with gateway_client(overlap, bus=_nats(config)) as client:
        for secret in (OLD_SECRET, SECRET):
            body = tv_body()
            response = await client.post(
                "/webhook/tradingview", content=body, headers=signed(body, secret)
            )
            assert response.status_code == 202, response.text
    after = config.model_copy(update={"api_key_hmac_secret": SecretStr(SECRET)})
    async with gateway_client(after, bus=_nats(config)) as client:
        body = tv_body()
        old = await client.post(
            "/webhook/tradingview", content=body, headers=signed(body, OLD_SECRET)
        )
        new = await client.post("/webhook/tradingview", content=body, headers=signed(body))
    assert (old.status_code, old.json()["code"]) == (401, "GW-001")
    assert new.status_code == 202


@pytest.mark.redis
async def test_exactly_once_across_two_replicas(config: GatewaySettings) -> None:
    redis_url = backend_url("redis")
    kv_a, kv_b = RedisKeyValue(redis_url), RedisKeyValue(redis_url)
    async with contextlib.AsyncExitStack() as stack:
        replica_a = await stack.enter_async_context(
            gateway_client(config, kv=kv_a, bus=_nats(config))
        )
        replica_b = await stack.enter_async_context(
            gateway_client(config, kv=kv_b, bus=_nats(config))
        )
        accepted: list[str] = []
        conflicts = 0

        async def sender(index: int) -> None:
            nonlocal conflicts
            for n in range(15):
                body = tv_body(ticker=f"X{index}N{n}", when=f"2025-01-01T00:{index:02d}:{n:02d}Z")
                # The same signal to both replicas at once, each with its own nonce.
                responses = await asyncio.gather(
                    replica_a.post("/webhook/tradingview", content=body, headers=signed(body)),
                    replica_b.post("/webhook/tradingview", content=body, headers=signed(body)),
                )
                for response in responses:
                    if response.status_code == 202:
                        accepted.append(response.json()["id"])
                    else:
                        assert response.json()["code"] == "GW-006", response.text
                        conflicts += 1

        await asyncio.gather(*(sender(i) for i in range(6)))
    assert len(accepted) == 6 * 15 == len(set(accepted))
    assert conflicts == 6 * 15
    stored = await _stored_ids(config, config.webhook_subject_raw)
    assert sorted(stored) == sorted(accepted)
    normalized = await _stored_ids(config, config.webhook_subject_normalized)
    assert sorted(normalized) == sorted(accepted)


@pytest.mark.redis
async def test_redis_outage_fails_closed_and_recovers(config: GatewaySettings) -> None:
    """The nonce/idempotency store down: GW-013 (never an unchecked 202), then back."""
    redis = redis_server()
    redis.start()
    try:
        kv = RedisKeyValue(f"redis://127.0.0.1:{redis.port}/0")
        async with gateway_client(config, kv=kv, bus=_nats(config)) as client:
            body = tv_body()
            assert (
                await client.post("/webhook/tradingview", content=body, headers=signed(body))
            ).status_code == 202
            redis.stop()
            body = tv_body()
            headers = signed(body)
            down = await client.post("/webhook/tradingview", content=body, headers=headers)
            assert (down.status_code, down.json()["code"]) == (503, "GW-013")
            await asyncio.to_thread(redis.start)
            for _ in range(50):
                again = await client.post("/webhook/tradingview", content=body, headers=headers)
                if again.status_code == 202:
                    break
                await asyncio.sleep(0.2)
            assert again.status_code == 202, again.text
    finally:
        redis.close()


@pytest.mark.redis
async def test_replica_b_refuses_a_replay_accepted_by_replica_a(config: GatewaySettings) -> None:
    redis_url = backend_url("redis")
    body = tv_body()
    headers = signed(body)
    async with contextlib.AsyncExitStack() as stack:
        replica_a = await stack.enter_async_context(
            gateway_client(config, kv=RedisKeyValue(redis_url), bus=_nats(config))
        )
        replica_b = await stack.enter_async_context(
            gateway_client(config, kv=RedisKeyValue(redis_url), bus=_nats(config))
        )
        first = await replica_a.post("/webhook/tradingview", content=body, headers=headers)
        replay = await replica_b.post("/webhook/tradingview", content=body, headers=headers)
        fresh_nonce = await replica_b.post(
            "/webhook/tradingview", content=body, headers=signed(body)
        )
    assert first.status_code == 202
    assert (replay.status_code, replay.json()["details"]["reason"]) == (401, "nonce_reused")
    assert (fresh_nonce.status_code, fresh_nonce.json()["code"]) == (409, "GW-006")
