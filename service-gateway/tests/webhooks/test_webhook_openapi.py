"""The webhook routes skip FastAPI's parameter solving but stay documented in OpenAPI."""

from __future__ import annotations

from access_gateway.webhooks.testing import AppClient, generic_body, signed


async def test_openapi_documents_paths_bodies_and_answers(make_client: AppClient) -> None:
    async with make_client() as client:
        spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    token_route = paths["/webhook/{source}/{token}"]["post"]
    assert {p["name"] for p in token_route["parameters"]} == {"source", "token"}
    tradingview = paths["/webhook/tradingview"]["post"]
    body = tradingview["requestBody"]["content"]["application/json"]["schema"]
    assert {"ticker", "action", "price", "time"} <= set(body["properties"])
    accepted = tradingview["responses"]["202"]["content"]["application/json"]["schema"]
    assert accepted["$ref"].endswith("/AcceptedBody")
    assert {"401", "409", "422", "503"} <= set(tradingview["responses"])
    assert "/healthz" in paths


async def test_path_parameters_reach_the_service(make_client: AppClient) -> None:
    body = generic_body()
    async with make_client() as client:
        named = await client.post("/webhook/custom", content=body, headers=signed(body))
        unknown = await client.post("/webhook/nope", content=body, headers=signed(body))
    assert named.status_code == 202, named.text
    assert named.json()["source"] == "custom"
    assert unknown.status_code == 404 and unknown.json()["code"] == "GW-007"
