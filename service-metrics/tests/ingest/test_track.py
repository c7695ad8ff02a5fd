"""POST /metrics/track: one sample or a batch, aggregated and exposed at /metrics."""

from __future__ import annotations

from typing import Any

import httpx

from access_metrics.testing import parse_scrape as families
from access_metrics.testing import sample


async def test_one_sample_then_a_batch_are_summed(client: httpx.AsyncClient) -> None:
    one = await client.post("/metrics/track", json=sample(value=2))
    assert one.status_code == 200
    assert one.json() == {"accepted": 1, "refused": 0, "refusals": []}
    batch = await client.post("/metrics/track", json={"samples": [sample(), sample(value=0.5)]})
    assert batch.json()["accepted"] == 2
    text = (await client.get("/metrics")).text
    series = families(text)["gateway_cache_hits_total"]
    assert series == {(("route", "/api/v1/instruments"), ("service", "gateway")): 3.5}
    assert "# TYPE gateway_cache_hits_total counter" in text


async def test_counter_named_with_or_without_total_is_one_family(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/metrics/track", json=sample("jobs_total"))
    await client.post("/metrics/track", json=sample("jobs"))
    series = families((await client.get("/metrics")).text)
    assert list(series["jobs_total"].values()) == [2.0]


async def test_gauge_keeps_the_last_value_and_accepts_nan_and_inf(
    client: httpx.AsyncClient,
) -> None:
    gauge: dict[str, Any] = {"type": "gauge", "labels": {}}
    name = "streaming_active_connections"
    for value in (5, 3):
        await client.post("/metrics/track", json=sample(name, **gauge, value=value))
    assert list(families((await client.get("/metrics")).text)[name].values()) == [3.0]
    response = await client.post("/metrics/track", json=sample(name, **gauge, value="+Inf"))
    assert response.status_code == 200
    assert (
        'streaming_active_connections{service="gateway"} +Inf'
        in (await client.get("/metrics")).text
    )


async def test_histogram_buckets_count_and_sum(client: httpx.AsyncClient) -> None:
    hist: dict[str, Any] = {"name": "streaming_delivery_lag_seconds", "type": "histogram"}
    values = [0.002, 0.02, 0.2, 2.0, 20.0]
    first = sample(**hist, value=values[0], labels={"topic": "t"}, buckets=[0.01, 0.1, 1, 10])
    body = {
        "samples": [first] + [sample(**hist, value=v, labels={"topic": "t"}) for v in values[1:]]
    }
    assert (await client.post("/metrics/track", json=body)).status_code == 200
    series = families((await client.get("/metrics")).text)
    labels = (("service", "gateway"), ("topic", "t"))
    buckets = series["streaming_delivery_lag_seconds_bucket"]
    assert [buckets[(("le", le), *labels)] for le in ("0.01", "0.1", "1.0", "10.0", "+Inf")] == [
        1.0, 2.0, 3.0, 4.0, 5.0,
    ]  # fmt: skip
    assert series["streaming_delivery_lag_seconds_count"][labels] == 5
    assert abs(series["streaming_delivery_lag_seconds_sum"][labels] - sum(values)) < 1e-9
    # As the pusher sends them: every observation repeats the buckets.
    again = [first, first]
    assert (await client.post("/metrics/track", json={"samples": again})).json()["accepted"] == 2
    series = families((await client.get("/metrics")).text)
    assert series["streaming_delivery_lag_seconds_count"][labels] == 7


async def test_openmetrics_when_the_scraper_asks(client: httpx.AsyncClient) -> None:
    from prometheus_client.openmetrics.parser import (  # noqa: PLC0415
        text_string_to_metric_families as parse_openmetrics,
    )

    await client.post("/metrics/track", json=sample())
    response = await client.get(
        "/metrics",
        headers={"accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"},
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
    assert response.text.count("# EOF") == 1
    parsed = {f.name: f for f in parse_openmetrics(response.text)}  # type: ignore[no-untyped-call]
    assert parsed["gateway_cache_hits"].type == "counter"
    assert parsed["gateway_cache_hits"].samples[0].value == 1.0
    plain = await client.get("/metrics")
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")


async def test_label_values_are_escaped(client: httpx.AsyncClient) -> None:
    odd = 'a "quoted"\\path\nnewline'
    await client.post("/metrics/track", json=sample(labels={"route": odd}))
    series = families((await client.get("/metrics")).text)["gateway_cache_hits_total"]
    assert series == {(("route", odd), ("service", "gateway")): 1.0}


async def test_series_cap_refuses_new_series_and_keeps_existing(
    client: httpx.AsyncClient,
) -> None:
    flood = [sample(labels={"route": f"/r{i}"}) for i in range(8)]
    response = await client.post("/metrics/track", json={"samples": flood})
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 5
    assert body["refused"] == 3
    assert {r["code"] for r in body["refusals"]} == {"SERIES_LIMIT_EXCEEDED"}
    # Only new series: refused with the precise code, counted.
    refused = await client.post("/metrics/track", json=sample(labels={"route": "/new"}))
    assert refused.status_code == 422
    assert refused.json()["code"] == "SERIES_LIMIT_EXCEEDED"
    assert refused.json()["details"]["limit"] == 5
    # Existing series keep counting.
    again = await client.post("/metrics/track", json=sample(labels={"route": "/r0"}))
    assert again.json()["accepted"] == 1
    text = (await client.get("/metrics")).text
    series = families(text)
    assert series["gateway_cache_hits_total"][(("route", "/r0"), ("service", "gateway"))] == 2
    assert len(series["gateway_cache_hits_total"]) == 5
    assert series["metrics_samples_refused_total"][(("reason", "series_limit_exceeded"),)] == 4
    assert series["metrics_series"][(("metric", "gateway_cache_hits"),)] == 5
    assert series["metrics_samples_accepted_total"][(("type", "counter"),)] == 6
