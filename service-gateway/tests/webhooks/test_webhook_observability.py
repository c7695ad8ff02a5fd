"""Seed 004's metrics and /healthz; JSON logs with corr_id, client_ip, source, GW code."""

from __future__ import annotations

import logging

import orjson
import pytest

from access_common.backends.memory_bus import MemoryBus
from access_common.log import JsonFormatter
from access_gateway.webhooks.testing import SECRET, AppClient, signed, tv_body

SEED_METRICS = (
    "gateway_webhooks_received_total",
    "gateway_webhook_duration_seconds",
    "gateway_nats_publish_total",
    "gateway_nats_errors_total",
    "gateway_backpressure_total",
    "gateway_rate_limit_exceeded_total",
    "gateway_validation_errors_total",
    "gateway_idempotency_conflicts_total",
)


async def test_seed_metrics_and_labels(make_client: AppClient) -> None:
    body = tv_body()
    async with make_client() as client:
        await client.post("/webhook/tradingview", content=body, headers=signed(body))
        await client.post("/webhook/tradingview", content=body, headers=signed(body))
        bad = signed(body) | {"x-signature": "sha256=invalid-signature"}
        await client.post("/webhook/tradingview", content=body, headers=bad)
        await client.post("/webhook/" + "x" * 40, content=body, headers=signed(body))
        text = (await client.get("/metrics")).text
    for name in SEED_METRICS:
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert 'gateway_webhooks_received_total{source="tradingview",status="2xx"} 1.0' in text
    assert 'gateway_webhooks_received_total{source="tradingview",status="4xx"} 2.0' in text
    # An unknown path segment never becomes a label value.
    assert 'gateway_webhooks_received_total{source="unknown",status="4xx"} 1.0' in text
    assert 'gateway_nats_publish_total{status="success"} 2.0' in text
    assert 'gateway_validation_errors_total{type="signature"} 1.0' in text
    assert "gateway_idempotency_conflicts_total 1.0" in text


async def test_healthz_seed_shape_without_io(make_client: AppClient) -> None:
    """/healthz answers from memory (its < 50 ms is measured in bench/webhooks.py)."""

    class CountingBus(MemoryBus):
        pings = 0

        async def ping(self) -> None:
            CountingBus.pings += 1
            await super().ping()

    async with make_client(bus=CountingBus()) as client:
        before = CountingBus.pings
        response = await client.get("/healthz")
        assert CountingBus.pings == before
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"ok", "uptime_s", "nats", "version"}
    assert body["ok"] is True and body["nats"] == "connected"


async def test_logs_carry_context_never_secrets(
    make_client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body = tv_body()
    good = signed(body)
    wrong = signed(body, "another-secret-0123456789abcdef01234")
    async with make_client() as client:
        ok = await client.post("/webhook/tradingview", content=body, headers=good)
        refusal = await client.post("/webhook/tradingview", content=body, headers=wrong)
    formatter = JsonFormatter("gateway")
    lines = [
        formatter.format(r) for r in caplog.records if r.name.startswith(("access", "uvicorn"))
    ]
    text = "\n".join(lines)
    for secret in (SECRET, good["x-signature"], wrong["x-signature"]):
        assert secret.removeprefix("sha256=") not in text
    entries = [orjson.loads(line) for line in lines]
    refused = next(e for e in entries if e.get("code") == "GW-001")
    accepted = next(e for e in entries if e["msg"] == "webhook accepted")
    assert accepted["corr_id"] == ok.json()["corr_id"]
    assert refused["corr_id"] == refusal.json()["trace_id"]
    for entry in (refused, accepted):
        assert entry["client_ip"] == "127.0.0.1"
        assert entry["source"] == "tradingview"
    assert refused["reason"] == "mismatch"
