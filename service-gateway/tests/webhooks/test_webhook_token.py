"""Token schemes for senders that cannot sign (TradingView), with the IP allow-list."""

from __future__ import annotations

import logging

import orjson
import pytest

from access_common.backends.memory_bus import MemoryBus
from access_gateway.webhooks.testing import AppClient, tv_body

TOKEN = "tv-token-0123456789abcdef0123456789ab"
TV_IPS = ["52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"]


def _tv(token_in: str = "body") -> dict[str, object]:  # noqa: S107 - a location
    return {
        "tradingview": {
            "scheme": "token",
            "secrets": [TOKEN],
            "token_in": token_in,
            "allowed_ips": TV_IPS,
        }
    }


async def test_token_in_body_from_an_allowed_address(make_client: AppClient) -> None:
    body = tv_body(token=TOKEN)
    async with make_client(webhook_sources=_tv(), client=("52.89.214.238", 443)) as client:
        ok = await client.post(
            "/webhook/tradingview", content=body, headers={"content-type": "text/plain"}
        )
        wrong = await client.post(
            "/webhook/tradingview",
            content=tv_body(token="nope"),
            headers={"content-type": "application/json"},
        )
        missing = await client.post(
            "/webhook/tradingview", content=tv_body(), headers={"content-type": "text/plain"}
        )
    assert ok.status_code == 202, ok.text
    assert wrong.json()["code"] == "GW-001"
    assert missing.json()["code"] == "GW-001"


async def test_token_never_reaches_the_bus(make_client: AppClient) -> None:
    bus = MemoryBus()
    await bus.start()
    body = tv_body(token=TOKEN)
    async with make_client(webhook_sources=_tv(), client=("52.89.214.238", 443), bus=bus) as client:
        subscription = await bus.subscribe(["signals.raw", "signals.normalized"], start="earliest")
        response = await client.post(
            "/webhook/tradingview", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 202
        messages = [await anext(aiter(subscription)) for _ in range(2)]
        await subscription.close()
    for message in messages:
        assert TOKEN.encode() not in message.value
    raw = next(m for m in messages if m.topic == "signals.raw")
    assert orjson.loads(raw.value)["ticker"] == "EURUSD"


async def test_unlisted_address_is_gw012(make_client: AppClient) -> None:
    body = tv_body(token=TOKEN)
    async with make_client(webhook_sources=_tv(), client=("203.0.113.9", 443)) as client:
        response = await client.post(
            "/webhook/tradingview", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 403
    assert response.json()["code"] == "GW-012"


async def test_trusted_proxy_forwards_the_client_address(make_client: AppClient) -> None:
    body = tv_body(token=TOKEN)
    async with make_client(
        webhook_sources=_tv(),
        webhook_trusted_proxies=["10.0.0.0/8"],
        client=("10.1.2.3", 443),
    ) as client:
        via_proxy = await client.post(
            "/webhook/tradingview",
            content=body,
            headers={"content-type": "application/json", "x-forwarded-for": "52.89.214.238"},
        )
        forged = await client.post(
            "/webhook/tradingview",
            content=tv_body(token=TOKEN),
            # The client claims an allowed address; the proxy appends the real one.
            headers={
                "content-type": "application/json",
                "x-forwarded-for": "52.89.214.238, 203.0.113.9",
            },
        )
    assert via_proxy.status_code == 202, via_proxy.text
    assert forged.json()["code"] == "GW-012"


async def test_the_gateway_hop_count_applies_to_webhooks(make_client: AppClient) -> None:
    # One client-address rule for the gateway: ACCESS_FORWARDED_FOR_HOPS works here too.
    async with make_client(
        webhook_sources=_tv(), forwarded_for_hops=1, client=("10.1.2.3", 443)
    ) as client:
        response = await client.post(
            "/webhook/tradingview",
            content=tv_body(token=TOKEN),
            headers={"content-type": "application/json", "x-forwarded-for": "52.89.214.238"},
        )
    assert response.status_code == 202, response.text


async def test_untrusted_peer_cannot_claim_an_address(make_client: AppClient) -> None:
    async with make_client(webhook_sources=_tv(), client=("203.0.113.9", 443)) as client:
        response = await client.post(
            "/webhook/tradingview",
            content=tv_body(token=TOKEN),
            headers={"content-type": "application/json", "x-forwarded-for": "52.89.214.238"},
        )
    assert response.json()["code"] == "GW-012"


async def test_token_in_path_is_masked_in_logs(
    make_client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with make_client(webhook_sources=_tv("path"), client=("52.89.214.238", 443)) as client:
        ok = await client.post(
            f"/webhook/tradingview/{TOKEN}",
            content=tv_body(),
            headers={"content-type": "application/json"},
        )
        wrong = await client.post(
            "/webhook/tradingview/not-the-token",
            content=tv_body(),
            headers={"content-type": "application/json"},
        )
        signing_source = await client.post(
            f"/webhook/custom/{TOKEN}",
            content=tv_body(),
            headers={"content-type": "application/json"},
        )
    assert ok.status_code == 202, ok.text
    assert wrong.json()["code"] == "GW-001"
    assert signing_source.status_code == 404
    # The server's records only (httpx, the test's own client, logs the URL it called).
    records = [r for r in caplog.records if not r.name.startswith("httpx")]
    text = "\n".join(r.getMessage() + str(r.__dict__) for r in records)
    assert TOKEN not in text
    assert "not-the-token" not in text
