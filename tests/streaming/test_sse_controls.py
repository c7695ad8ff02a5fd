"""SSE control endpoints: every refusal is an HTTP error in the model, the stream goes on."""

from __future__ import annotations

import httpx
import pytest

from access_streaming.testing import FakeEntitlements, read_sse
from access_streaming.topics import TopicRegistry

from .conftest import Mint, StartStreaming


async def test_sse_subscribe_refusals(
    start_streaming: StartStreaming, registry: TopicRegistry, entitlements: FakeEntitlements,
    mint: Mint,
) -> None:  # fmt: skip
    prices, curves = registry.names()
    entitlements.allow("tenant-a", "analyst", prices)
    alice = await mint("alice", "tenant-a")
    auth = {"authorization": f"Bearer {alice}"}
    async with (
        start_streaming(registry) as server,
        httpx.AsyncClient(base_url=server.http_url) as client,
        client.stream("GET", "/sse/stream", headers=auth) as stream,
    ):
        events = read_sse(stream.aiter_lines())
        connection_id = (await anext(events)).data["connection_id"]

        async def post(
            path: str, form: dict[str, str], headers: dict[str, str] | None = None
        ) -> httpx.Response:
            return await client.post(path, data=form, headers=auth if headers is None else headers)

        cases = [
            ({"connection_id": connection_id, "topic": curves}, 403, "SUBSCRIPTION_DENIED"),
            ({"connection_id": connection_id, "topic": "no.such"}, 404, "TOPIC_UNKNOWN"),
            ({"connection_id": connection_id, "topic": "bad topic"}, 400, "TOPIC_INVALID"),
            ({"connection_id": connection_id, "filters": "{oops"}, 400, "FILTER_INVALID"),
            ({"connection_id": connection_id, "filters": "[1]"}, 400, "FILTER_INVALID"),
            ({"topic": prices}, 400, "MESSAGE_MALFORMED"),
            ({"connection_id": "conn-nope", "topic": prices}, 404, "CONNECTION_NOT_FOUND"),
        ]
        for form, status, code in cases:
            answer = await post("/sse/subscribe", form)
            assert (answer.status_code, answer.json()["code"]) == (status, code), form
            assert set(answer.json()) == {"trace_id", "code", "message", "details"}
        denied = (await post("/sse/subscribe", cases[0][0])).json()
        assert denied["details"] == {"topic": curves, "required_role": "analyst"}
        missing = await post("/sse/subscribe", {"connection_id": connection_id}, headers={})
        assert (missing.status_code, missing.json()["code"]) == (401, "TOKEN_MISSING")
        # The default topic, and the stream still works.
        ok = await post("/sse/subscribe", {"connection_id": connection_id})
        assert ok.status_code == 200 and ok.json()["topic"] == prices
        await server.runtime.buses["nats"].publish(prices, b'{"still": "here"}')
        event = await anext(events)
        assert (event.event, event.data["data"]) == ("data", {"still": "here"})


@pytest.mark.parametrize("token", [None, "not-a-jwt"])
async def test_sse_stream_refusals(
    start_streaming: StartStreaming, registry: TopicRegistry, token: str | None
) -> None:
    async with start_streaming(registry) as server, httpx.AsyncClient(
        base_url=server.http_url
    ) as client:  # fmt: skip
        params = {"token": token} if token else {}
        answer = await client.get("/sse/stream", params=params)
        assert answer.status_code == 401
        assert answer.json()["code"] == ("TOKEN_MISSING" if token is None else "TOKEN_MALFORMED")
        assert "www-authenticate" in answer.headers
