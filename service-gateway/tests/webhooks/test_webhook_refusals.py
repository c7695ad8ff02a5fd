"""Every refusal carries its GW code: source, content, size, payload, maintenance, duplicate."""

from __future__ import annotations

import orjson

from access_common.backends.memory_bus import MemoryBus
from access_gateway.webhooks.signal import Signal
from access_gateway.webhooks.testing import AppClient, generic_body, signed, tv_body


async def test_unknown_source_is_gw007(make_client: AppClient) -> None:
    body = tv_body()
    async with make_client() as client:
        response = await client.post("/webhook/nosuch", content=body, headers=signed(body))
    assert response.status_code == 404
    assert response.json()["code"] == "GW-007"


async def test_allowed_sources_are_served(make_client: AppClient) -> None:
    async with make_client(webhook_allowed_sources="tradingview,custom,partner") as client:
        for source in ("custom", "partner", "generic"):
            body = generic_body()
            response = await client.post(f"/webhook/{source}", content=body, headers=signed(body))
            assert response.status_code == 202, (source, response.text)


async def test_content_type_and_size(make_client: AppClient) -> None:
    body = tv_body()
    big = tv_body(note="x" * 2000)
    async with make_client(webhook_max_body_bytes=1024) as client:
        form = await client.post(
            "/webhook/tradingview",
            content=body,
            headers=signed(body) | {"content-type": "application/x-www-form-urlencoded"},
        )
        plain_generic = await client.post(
            "/webhook/generic",
            content=body,
            headers=signed(body) | {"content-type": "text/plain"},
        )
        too_large = await client.post("/webhook/tradingview", content=big, headers=signed(big))
    assert (form.status_code, form.json()["code"]) == (415, "GW-009")
    assert (plain_generic.status_code, plain_generic.json()["code"]) == (415, "GW-009")
    assert (too_large.status_code, too_large.json()["code"]) == (413, "GW-008")


async def test_malformed_payloads_are_gw003(make_client: AppClient) -> None:
    cases = [
        ("/webhook/tradingview", b"{}"),
        ("/webhook/tradingview", b"not json"),
        ("/webhook/tradingview", orjson.dumps({"ticker": "X", "action": "buy", "price": "nan-7f3e",
                                               "time": "2025-01-01T00:00:00Z"})),
        ("/webhook/tradingview", orjson.dumps({"ticker": "X", "action": "buy", "price": 1,
                                               "time": "2025-01-01T00:00:00"})),
        ("/webhook/generic", orjson.dumps({"source": "s", "instrument": "I",
                                           "timestamp": "2025-01-01T00:00:00Z", "extra": 1})),
    ]  # fmt: skip
    async with make_client() as client:
        for path, body in cases:
            response = await client.post(path, content=body, headers=signed(body))
            assert response.status_code == 422, (path, body, response.text)
            answer = response.json()
            assert answer["code"] == "GW-003"
            assert answer["details"]["errors"]
            # Field names and messages only, never the submitted values.
            assert "nan-7f3e" not in response.text


async def test_maintenance_mode_is_gw011_with_retry_after(make_client: AppClient) -> None:
    body = b"{}"
    async with make_client(webhook_maintenance_mode=True) as client:
        response = await client.post(
            "/webhook/tradingview", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 503
    assert response.json()["code"] == "GW-011"
    assert int(response.headers["retry-after"]) > 0


async def test_duplicate_signal_is_gw006(make_client: AppClient) -> None:
    body = tv_body(when="2025-06-01T12:00:00Z")
    same_instant = orjson.dumps({"ticker": "eurusd", "action": "sell", "price": 2,
                                 "time": "2025-06-01T14:00:00+02:00"})  # fmt: skip
    async with make_client() as client:
        first = await client.post("/webhook/tradingview", content=body, headers=signed(body))
        again = await client.post("/webhook/tradingview", content=body, headers=signed(body))
        # Same source, instrument (case aside) and instant: the seed's key says duplicate.
        alias = await client.post(
            "/webhook/tradingview", content=same_instant, headers=signed(same_instant)
        )
    assert first.status_code == 202
    assert (again.status_code, again.json()["code"]) == (409, "GW-006")
    assert again.json()["details"] == {"id": first.json()["id"], "state": "accepted"}
    assert alias.json()["code"] == "GW-006"


async def test_normalized_signal_v1(make_client: AppClient) -> None:
    bus = MemoryBus()
    await bus.start()
    tv = tv_body(ticker="eurusd", when="2025-06-01T14:00:00+02:00", interval="1h")
    generic = generic_body(instrument="btcusd", when="2025-06-01T12:00:00Z")
    async with make_client(bus=bus) as client:
        subscription = await bus.subscribe(["signals.normalized", "signals.raw"], start="earliest")
        for path, body in (("/webhook/tradingview", tv), ("/webhook/generic", generic)):
            response = await client.post(path, content=body, headers=signed(body))
            assert response.status_code == 202
        messages = [await anext(aiter(subscription)) for _ in range(4)]
        await subscription.close()
    raw = [m.value for m in messages if m.topic == "signals.raw"]
    assert raw == [tv, generic]  # the raw body, byte for byte
    normalized = [orjson.loads(m.value) for m in messages if m.topic == "signals.normalized"]
    first, second = normalized
    for message in normalized:
        # The published dict is exactly the documented model, field for field.
        assert set(Signal.model_validate(message).model_dump(by_alias=True)) == set(message)
    assert first["schema"] == "signal.v1"
    assert first["kind"] == "tradingview"
    assert first["instrument"] == "EURUSD"
    assert first["event_time"] == "2025-06-01T12:00:00+00:00"
    assert (first["action"], first["price"]) == ("buy", 1.0945)
    assert first["payload"] == {"interval": "1h"}
    assert first["origin"] is None
    assert second["kind"] == "generic"
    assert (second["source"], second["origin"]) == ("generic", "test")
    assert second["payload"] == {"p": 1}
    headers = next(m.headers for m in messages if m.topic == "signals.raw")
    assert headers["Signal-Id"] == first["id"]
    assert headers["Nats-Msg-Id"] == f"{first['id']}:raw"


async def test_unexpected_error_is_gw010_without_a_trace(make_client: AppClient) -> None:
    class Broken(MemoryBus):
        async def publish(self, *args: object, **kwargs: object) -> int:
            raise RuntimeError("boom at /secret/path")

    body = tv_body()
    async with make_client(bus=Broken()) as client:
        response = await client.post("/webhook/tradingview", content=body, headers=signed(body))
        retry = await client.post("/webhook/tradingview", content=body, headers=signed(body))
    assert response.status_code == 500
    assert response.json()["code"] == "GW-010"
    assert "boom" not in response.text
    # The idempotency key was given back: the failure did not turn the retry into a 409.
    assert retry.json()["code"] == "GW-010"
