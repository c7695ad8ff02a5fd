"""Against the real NATS JetStream: stream setup, acks before 202, Nats-Msg-Id de-duplication."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from access_common.backends.nats_bus import NatsBus
from access_common.testing import backend_url
from access_gateway.settings import GatewaySettings
from access_gateway.webhooks.testing import (
    drop_stream,
    gateway_client,
    read_subject,
    signed,
    tv_body,
    unique_stream,
)

pytestmark = pytest.mark.nats


@pytest.fixture
async def config(tmp_path: Path) -> AsyncIterator[GatewaySettings]:
    url = backend_url("nats")
    settings = unique_stream(tmp_path, url)
    yield settings
    await drop_stream(url, settings.webhook_nats_stream)


async def test_accepted_signal_is_in_the_named_stream(config: GatewaySettings) -> None:
    assert config.nats_url is not None
    body = tv_body()
    async with gateway_client(config, bus=NatsBus(config.nats_url)) as client:
        response = await client.post("/webhook/tradingview", content=body, headers=signed(body))
        health = (await client.get("/healthz")).json()
        full = (await client.get("/health")).json()
    assert response.status_code == 202, response.text
    assert health["nats"] == "connected" and health["ok"] is True
    assert full["dependencies"]["nats"] == "ok"
    nc = await nats.connect(config.nats_url)
    try:
        info = await nc.jetstream().stream_info(config.webhook_nats_stream)
    finally:
        await nc.close()
    assert set(info.config.subjects or []) == {
        config.webhook_subject_raw,
        config.webhook_subject_normalized,
    }
    assert info.config.duplicate_window == config.webhook_duplicate_window_sec
    assert info.config.max_age == config.webhook_stream_max_age_sec
    assert info.state.messages == 2
    bus = NatsBus(config.nats_url)
    try:
        raw = await read_subject(bus, config.webhook_subject_raw, idle=0.5)
    finally:
        await bus.close()
    assert [m.value for m in raw] == [body]
    assert raw[0].offset == response.json()["raw_seq"]


async def test_retry_racing_the_store_is_dropped_by_the_broker(config: GatewaySettings) -> None:
    """The idempotency store lost the key (Redis restart): JetStream still keeps one copy."""
    assert config.nats_url is not None
    body = tv_body()
    async with gateway_client(config, bus=NatsBus(config.nats_url)) as first:
        one = await first.post("/webhook/tradingview", content=body, headers=signed(body))
    # A fresh app = a fresh in-process idempotency store that never saw the key.
    async with gateway_client(config, bus=NatsBus(config.nats_url)) as second:
        two = await second.post("/webhook/tradingview", content=body, headers=signed(body))
    assert one.status_code == two.status_code == 202
    assert one.json()["raw_seq"] == two.json()["raw_seq"]
    bus = NatsBus(config.nats_url)
    try:
        raw = await read_subject(bus, config.webhook_subject_raw, idle=0.5)
    finally:
        await bus.close()
    assert len(raw) == 1


async def test_existing_stream_keeps_the_subjects(tmp_path: Path) -> None:
    """An operator's own stream capturing the subjects is used as is."""
    url = backend_url("nats")
    config = unique_stream(tmp_path, url)
    operator_stream = config.webhook_nats_stream + "-ops"
    prefix = config.webhook_subject_raw.split(".")[0]
    nc = await nats.connect(url)
    try:
        await nc.jetstream().add_stream(name=operator_stream, subjects=[f"{prefix}.>"])
        body = tv_body()
        async with gateway_client(config, bus=NatsBus(url)) as client:
            response = await client.post("/webhook/tradingview", content=body, headers=signed(body))
        assert response.status_code == 202
        info = await nc.jetstream().stream_info(operator_stream)
        assert info.state.messages == 2
    finally:
        await nc.jetstream().delete_stream(operator_stream)
        await nc.close()
