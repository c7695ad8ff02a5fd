"""RATE_LIMIT_RPS per client before auth, per-source limits after: 429 GW-004 + Retry-After."""

from __future__ import annotations

from access_gateway.webhooks.testing import AppClient, signed, tv_body


async def test_client_limit_counts_unsigned_requests(make_client: AppClient) -> None:
    async with make_client(webhook_rate_limit_rps=5) as client:
        codes = []
        for _ in range(10):
            response = await client.post(
                "/webhook/tradingview", content=b"{}", headers={"content-type": "application/json"}
            )
            codes.append(response.json()["code"])
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
        metrics = (await client.get("/metrics")).text
    assert codes.count("GW-001") == 5
    assert codes.count("GW-004") == 5
    assert 'gateway_rate_limit_exceeded_total{scope="client"} 5.0' in metrics


async def test_source_limit_after_auth_keeps_the_nonce_usable(make_client: AppClient) -> None:
    async with make_client(webhook_rate_limit_sources={"tradingview": 2}) as client:
        statuses = []
        refused = None
        for _ in range(4):
            body = tv_body()
            headers = signed(body)
            response = await client.post("/webhook/tradingview", content=body, headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 429:
                refused = (body, headers)
                assert response.json()["code"] == "GW-004"
                assert response.json()["details"]["scope"] == "source"
        # Forged requests never spend the source's budget.
        bad = tv_body()
        forged = await client.post(
            "/webhook/tradingview",
            content=bad,
            headers=signed(bad) | {"x-signature": "sha256=" + "1" * 64},
        )
        assert forged.json()["code"] == "GW-001"
        other = tv_body()
        custom = await client.post("/webhook/generic", content=other, headers=signed(other))
    assert statuses.count(202) == 2 and statuses.count(429) == 2
    assert refused is not None
    # No default limit: other sources are not limited.
    assert custom.json()["code"] == "GW-003"
