"""Bad input: a precise 4xx in the error model, nothing of the request applied, nothing lost."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from access_metrics.testing import parse_scrape, sample

ERROR_KEYS = {"trace_id", "code", "message", "details"}


async def total(client: httpx.AsyncClient) -> float:
    scrape = parse_scrape((await client.get("/metrics")).text)
    return sum(scrape.get("gateway_cache_hits_total", {}).values())


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "INVALID_JSON"),
        (b'{"name": "x", "type": "gauge", "value": NaN, "source": "gateway"}', 400, "INVALID_JSON"),
        (b"[]", 422, "INVALID_SAMPLE"),
        (b'{"samples": []}', 422, "INVALID_SAMPLE"),
        (b'{"samples": {}}', 422, "INVALID_SAMPLE"),
        (b'"a string"', 422, "INVALID_SAMPLE"),
    ],
)
async def test_malformed_bodies(
    client: httpx.AsyncClient, body: bytes, status: int, code: str
) -> None:
    response = await client.post("/metrics/track", content=body)
    assert response.status_code == status
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"name": "9starts_with_digit"}, "INVALID_METRIC_NAME"),
        ({"name": "has-dash"}, "INVALID_METRIC_NAME"),
        ({"name": "__reserved"}, "INVALID_METRIC_NAME"),
        ({"name": "x" * 300}, "INVALID_METRIC_NAME"),
        ({"name": 7}, "INVALID_SAMPLE"),
        ({"name": ["a", "list"]}, "INVALID_SAMPLE"),
        ({"type": ["counter"]}, "INVALID_SAMPLE"),
        ({"source": ["gateway"]}, "INVALID_SAMPLE"),
        ({"value": [1]}, "INVALID_SAMPLE"),
        ({"value": {"n": 1}}, "INVALID_SAMPLE"),
        ({"labels": {"route": ["x"]}}, "INVALID_LABEL"),
        ({"labels": {"route": None}}, "INVALID_LABEL"),
        ({"type": "summary"}, "INVALID_SAMPLE"),
        ({"value": "12"}, "INVALID_SAMPLE"),
        ({"value": True}, "INVALID_SAMPLE"),
        ({"value": None}, "INVALID_SAMPLE"),
        ({"value": -1}, "INVALID_VALUE"),
        ({"value": "NaN"}, "INVALID_VALUE"),
        ({"value": "+Inf"}, "INVALID_VALUE"),
        ({"source": "Not A Service"}, "INVALID_SAMPLE"),
        ({"source": None}, "INVALID_SAMPLE"),
        ({"extra": 1}, "INVALID_SAMPLE"),
        ({"labels": {"bad-label": "x"}}, "INVALID_LABEL"),
        ({"labels": {"__name__": "x"}}, "INVALID_LABEL"),
        ({"labels": {"service": "spoofed"}}, "INVALID_LABEL"),
        ({"labels": {"instance": "x"}}, "INVALID_LABEL"),
        ({"labels": {"route": 5}}, "INVALID_LABEL"),
        ({"labels": {"route": "x" * 300}}, "INVALID_LABEL"),
        ({"labels": {f"l{i}": "x" for i in range(17)}}, "INVALID_LABEL"),
        ({"labels": ["route"]}, "INVALID_SAMPLE"),
        ({"buckets": [1, 2]}, "INVALID_SAMPLE"),
    ],
)
async def test_bad_samples_are_refused_with_a_precise_code(
    client: httpx.AsyncClient, override: dict[str, Any], code: str
) -> None:
    good = sample()
    await client.post("/metrics/track", json=good)
    bad = sample("other_metric_total", **override) if "name" not in override else sample(**override)
    response = await client.post("/metrics/track", json={"samples": [good, bad, good]})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == code
    assert body["details"]["errors"][0]["index"] == 1
    assert "none applied" in body["message"]
    assert await total(client) == 1  # the batch's two good samples were not applied


async def test_histogram_refuses_le_label_and_non_finite_observations(
    client: httpx.AsyncClient,
) -> None:
    hist: dict[str, Any] = {"name": "lag_seconds", "type": "histogram", "labels": {}}
    le = await client.post("/metrics/track", json=sample(**{**hist, "labels": {"le": "1"}}))
    assert le.json()["code"] == "INVALID_LABEL"
    inf = await client.post("/metrics/track", json=sample(**hist, value="+Inf"))
    assert inf.json()["code"] == "INVALID_VALUE"
    bad_buckets = await client.post("/metrics/track", json=sample(**hist, buckets=[2, 1]))
    assert bad_buckets.json()["code"] == "INVALID_SAMPLE"


async def test_a_name_reused_with_another_type_or_labels_is_a_conflict(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/metrics/track", json=sample())
    as_gauge = await client.post("/metrics/track", json=sample(type="gauge", value=3))
    assert as_gauge.status_code == 409
    assert as_gauge.json()["code"] == "METRIC_TYPE_CONFLICT"
    as_histogram = await client.post(
        "/metrics/track", json=sample("gateway_cache_hits", type="histogram")
    )
    assert as_histogram.json()["code"] == "METRIC_TYPE_CONFLICT"
    other_labels = await client.post("/metrics/track", json=sample(labels={"path": "/x"}))
    assert other_labels.status_code == 409
    assert other_labels.json()["code"] == "METRIC_LABELS_CONFLICT"
    clash = await client.post(
        "/metrics/track", json=sample("gateway_cache_hits_bucket", type="gauge", labels={})
    )
    assert clash.status_code == 200  # no histogram named gateway_cache_hits: no clash
    await client.post("/metrics/track", json=sample("lag", type="histogram", labels={}))
    clash = await client.post("/metrics/track", json=sample("lag_count", type="gauge"))
    assert clash.json()["code"] == "METRIC_TYPE_CONFLICT"  # lag_count is the histogram's
    await client.post("/metrics/track", json=sample("queue_total", type="gauge", labels={}))
    clash = await client.post("/metrics/track", json=sample("queue", labels={}))
    assert clash.status_code == 409
    assert clash.json()["code"] == "METRIC_NAME_CONFLICT"  # counter queue exposes queue_total
    own = await client.post("/metrics/track", json=sample("http_requests_total"))
    assert own.json()["code"] == "METRIC_NAME_CONFLICT"
    buckets = await client.post(
        "/metrics/track", json=sample("lag", type="histogram", labels={}, buckets=[1, 2])
    )
    assert buckets.json()["code"] == "METRIC_BUCKETS_CONFLICT"
    assert await total(client) == 1


async def test_huge_batches(serve: Any) -> None:
    async with serve(metrics_max_batch_samples=100, max_body_bytes=200_000) as client:
        too_many = await client.post(
            "/metrics/track", json={"samples": [sample() for _ in range(101)]}
        )
        assert too_many.status_code == 413
        assert too_many.json()["code"] == "BATCH_TOO_LARGE"
        assert too_many.json()["details"]["max_samples"] == 100
        too_big = await client.post("/metrics/track", content=b"[" + b" " * 300_000 + b"]")
        assert too_big.status_code == 413
        assert too_big.json()["code"] == "PAYLOAD_TOO_LARGE"
        assert (await client.post("/metrics/track", json=sample())).status_code == 200


async def test_family_limit(serve: Any) -> None:
    async with serve(metrics_max_families=2) as client:
        for name in ("a_total", "b_total"):
            assert (await client.post("/metrics/track", json=sample(name))).status_code == 200
        third = await client.post("/metrics/track", json=sample("c_total"))
        assert third.status_code == 422
        assert third.json()["code"] == "FAMILY_LIMIT_EXCEEDED"
        assert (await client.post("/metrics/track", json=sample("a_total"))).status_code == 200


async def test_refusals_are_counted_by_reason(client: httpx.AsyncClient) -> None:
    await client.post("/metrics/track", content=b"nope")
    await client.post("/metrics/track", json=sample(value=-1))
    await client.post("/metrics/track", json=sample(name="bad name"))
    scrape = parse_scrape((await client.get("/metrics")).text)
    refused = scrape["metrics_samples_refused_total"]
    assert refused[(("reason", "invalid_json"),)] == 1
    assert refused[(("reason", "invalid_value"),)] == 1
    assert refused[(("reason", "invalid_metric_name"),)] == 1
    await client.post("/metrics/track", json={"samples": [sample(), sample(value=-1)]})
    refused = parse_scrape((await client.get("/metrics")).text)["metrics_samples_refused_total"]
    assert refused[(("reason", "invalid_value"),)] == 2
    assert refused[(("reason", "batch_refused"),)] == 1


def _junk(rng: Any, depth: int = 0) -> Any:
    choices: list[Any] = [None, True, -1, 0, 2**70, 1.5, "", "x", "NaN", "+Inf", "a b", "é"]
    if depth < 2:
        choices += [[_junk(rng, depth + 1)], {"k": _junk(rng, depth + 1)}, {}]
    return rng.choice(choices)


async def test_no_input_produces_a_500_and_stored_counts_survive(
    client: httpx.AsyncClient,
) -> None:
    import random  # noqa: PLC0415

    rng = random.Random(20)
    await client.post("/metrics/track", json=sample())
    fields = ["name", "type", "value", "labels", "source", "help", "buckets", "other"]
    for _ in range(300):
        junk = sample()
        for field in rng.sample(fields, rng.randint(1, 3)):
            junk[field] = _junk(rng)
        body = junk if rng.random() < 0.5 else {"samples": [sample(), junk]}
        response = await client.post("/metrics/track", json=body)
        assert response.status_code < 500, (body, response.text)
        assert set(response.json()) in ({"accepted", "refused", "refusals"}, ERROR_KEYS)
    assert await total(client) >= 1
