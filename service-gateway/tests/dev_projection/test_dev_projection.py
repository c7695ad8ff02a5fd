"""The development projection upstream: every route the built-in table forwards to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from access_gateway.dev_projection import data
from access_gateway.dev_projection.app import DevProjectionSettings, create_app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(DevProjectionSettings())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://p") as c:
            yield c


async def test_instruments_page_and_filter(client: httpx.AsyncClient) -> None:
    tenant = {"x-tenant-id": "tenant-a"}
    page = await client.get("/instruments?limit=5&page=2", headers=tenant)
    assert page.headers["x-total-count"] == str(len(data.INSTRUMENTS))
    assert len(page.json()["items"]) == 5
    assert page.json()["tenant_id"] == "tenant-a"
    power = (await client.get("/instruments?filters=commodity:power,region:europe")).json()
    assert power["total"] >= 3
    assert {i["commodity"] for i in power["items"]} == {"power"}
    bad = await client.get("/instruments?filters=colour:red")
    assert bad.status_code == 400
    assert bad.json()["code"] == "FILTER_INVALID"
    assert (await client.get("/instruments/NG-HH")).json()["curve_id"] == "NG-HH-FWD"
    assert (await client.get("/instruments/NOPE")).status_code == 404


async def test_curves_and_prices(client: httpx.AsyncClient) -> None:
    curve = (await client.get("/curves/TTF-FWD?as_of=2026-01-15")).json()
    assert curve["as_of"] == "2026-01-15"
    assert len(curve["points"]) == 24
    assert curve["points"][0]["tenor"] == "2026-02"
    bulk = (await client.post("/curves/bulk", json={"curve_ids": ["TTF-FWD", "X"]})).json()
    assert [c["curve_id"] for c in bulk["curves"]] == ["TTF-FWD"]
    assert bulk["missing"] == ["X"]
    job = await client.post("/curves/recompute", json={"curve_ids": ["TTF-FWD"]})
    assert job.status_code == 202
    prices = await client.get("/prices/latest?instruments=BRENT,WTI")
    assert [p["instrument_id"] for p in prices.json()["prices"]] == ["BRENT", "WTI"]
    assert float(prices.headers["x-projection-as-of"]) > 0


def test_prices_move() -> None:
    brent = data.INSTRUMENTS[[i.id for i in data.INSTRUMENTS].index("BRENT")]
    assert data.latest_price(brent, 1000.0)["price"] != data.latest_price(brent, 1030.0)["price"]
