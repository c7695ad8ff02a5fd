"""Seed 004's HMAC scheme: signature, rotation, replay window, nonce reuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from access_gateway.webhooks.schemas import AcceptedBody
from access_gateway.webhooks.testing import OLD_SECRET, SECRET, AppClient, signed, tv_body


async def test_signed_tradingview_alert_is_accepted(make_client: AppClient) -> None:
    body = tv_body()
    async with make_client() as client:
        response = await client.post("/webhook/tradingview", content=body, headers=signed(body))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "accepted"
    assert answer["schema"] == "signal.v1"
    assert answer["source"] == "tradingview"
    assert answer["raw_seq"] >= 0 and answer["normalized_seq"] >= 0
    # The 202 is encoded by hand (no response model per request): it must stay the
    # documented AcceptedBody, field for field.
    documented = AcceptedBody.model_validate(answer).model_dump(by_alias=True)
    assert documented == answer
    assert response.headers["content-type"] == "application/json"


async def test_wrong_signature_is_gw001(make_client: AppClient) -> None:
    body = tv_body()
    headers = signed(body) | {"x-signature": "sha256=" + "0" * 64}
    async with make_client() as client:
        response = await client.post("/webhook/tradingview", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "GW-001"
    assert response.json()["details"]["reason"] == "mismatch"


async def test_seed_invalid_signature_literal_and_missing_headers(make_client: AppClient) -> None:
    body = tv_body()
    async with make_client() as client:
        literal = await client.post(
            "/webhook/tradingview",
            content=body,
            headers=signed(body) | {"x-signature": "sha256=invalid-signature"},
        )
        bare = await client.post(
            "/webhook/tradingview", content=body, headers={"content-type": "application/json"}
        )
    assert literal.status_code == 401 and literal.json()["code"] == "GW-001"
    assert bare.status_code == 401 and bare.json()["code"] == "GW-001"
    assert set(bare.json()["details"]["missing"]) == {"X-Signature", "X-Timestamp", "X-Nonce"}


async def test_body_changed_after_signing_is_refused(make_client: AppClient) -> None:
    body = tv_body()
    async with make_client() as client:
        response = await client.post(
            "/webhook/tradingview", content=body.replace(b"buy", b"sell"), headers=signed(body)
        )
    assert response.json()["code"] == "GW-001"


async def test_timestamp_outside_window_is_gw002(make_client: AppClient) -> None:
    body = tv_body()
    stale = (datetime.now(UTC) - timedelta(seconds=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    future = (datetime.now(UTC) + timedelta(seconds=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with make_client(webhook_replay_window_sec=300) as client:
        old = await client.post(
            "/webhook/tradingview", content=body, headers=signed(body, timestamp=stale)
        )
        ahead = await client.post(
            "/webhook/tradingview", content=body, headers=signed(body, timestamp=future)
        )
        garbled = await client.post(
            "/webhook/tradingview", content=body, headers=signed(body, timestamp="yesterday")
        )
        naive = await client.post(
            "/webhook/tradingview",
            content=body,
            headers=signed(body, timestamp=datetime.now(UTC).replace(tzinfo=None).isoformat()),
        )
    for response in (old, ahead, garbled, naive):
        assert response.status_code == 401
        assert response.json()["code"] == "GW-002"
    assert old.json()["details"]["window_sec"] == 300


async def test_reused_nonce_is_gw002(make_client: AppClient) -> None:
    first, second = tv_body(), tv_body(ticker="GBPUSD")
    async with make_client() as client:
        ok = await client.post(
            "/webhook/tradingview", content=first, headers=signed(first, nonce="nonce-0001")
        )
        again = await client.post(
            "/webhook/tradingview", content=second, headers=signed(second, nonce="nonce-0001")
        )
        other_source = await client.post(
            "/webhook/generic",
            content=b"{}",
            headers=signed(b"{}", nonce="nonce-0001"),
        )
    assert ok.status_code == 202
    assert again.status_code == 401
    assert again.json()["code"] == "GW-002"
    assert again.json()["details"]["reason"] == "nonce_reused"
    # Nonces are per source: the generic one fails on its payload, not on the nonce.
    assert other_source.json()["code"] == "GW-003"


async def test_reused_nonce_leaves_the_signal_free(make_client: AppClient) -> None:
    # Nonce and idempotency key are claimed together: a refused nonce must not leave
    # the (new) signal's key claimed, or the genuine sender's request would be a 409.
    first, second = tv_body(ticker="AAA"), tv_body(ticker="BBB")
    async with make_client() as client:
        ok = await client.post(
            "/webhook/tradingview", content=first, headers=signed(first, nonce="nonce-0002")
        )
        reused = await client.post(
            "/webhook/tradingview", content=second, headers=signed(second, nonce="nonce-0002")
        )
        genuine = await client.post("/webhook/tradingview", content=second, headers=signed(second))
    assert ok.status_code == 202
    assert reused.json()["details"]["reason"] == "nonce_reused"
    assert genuine.status_code == 202, genuine.text


async def test_rotation_accepts_every_configured_secret(make_client: AppClient) -> None:
    async with make_client(api_key_hmac_secret=f"{OLD_SECRET},{SECRET}") as client:
        for secret in (OLD_SECRET, SECRET):
            body = tv_body()
            response = await client.post(
                "/webhook/tradingview", content=body, headers=signed(body, secret)
            )
            assert response.status_code == 202, response.text
    async with make_client(api_key_hmac_secret=SECRET) as client:
        body = tv_body()
        response = await client.post(
            "/webhook/tradingview", content=body, headers=signed(body, OLD_SECRET)
        )
    assert response.json()["code"] == "GW-001"


async def test_no_secret_configured_refuses_everything(make_client: AppClient) -> None:
    body = tv_body()
    async with make_client(api_key_hmac_secret=None) as client:
        response = await client.post("/webhook/tradingview", content=body, headers=signed(body))
    assert response.status_code == 401
    assert response.json()["details"]["reason"] == "no_secret_configured"
