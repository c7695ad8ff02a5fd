"""The fast path of validation: a series accepted once skips re-validation, never the checks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from access_metrics.app import create_app
from access_metrics.ingest import validation
from access_metrics.ingest.service import track
from access_metrics.runtime import MetricsRuntime
from access_metrics.settings import MetricsSettings
from access_metrics.testing import parse_scrape, sample


def _runtime(**settings: Any) -> MetricsRuntime:
    runtime: MetricsRuntime = create_app(
        MetricsSettings(env="test", **settings)
    ).state.metrics_runtime
    return runtime


def _seen(runtime: MetricsRuntime) -> int:
    return len(runtime.validator._seen)


async def test_a_series_takes_the_fast_path_only_after_it_was_aggregated() -> None:
    runtime = _runtime()
    body = {"samples": [sample(), sample(value=2)]}
    validated = await runtime.validator.ops(body["samples"])
    assert len(validated.fresh) == 2 and _seen(runtime) == 0  # validated, not yet applied
    await track(runtime, httpx.Request("POST", "/", json=body).read())
    assert _seen(runtime) == 1
    again = await runtime.validator.ops(body["samples"])
    assert again.fresh == [] and len(again.ops) == 2 and not again.errors


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"value": -1}, "INVALID_VALUE"),
        ({"value": "NaN"}, "INVALID_VALUE"),
        ({"value": True}, "INVALID_SAMPLE"),
        ({"value": None}, "INVALID_SAMPLE"),
        ({"labels": {"route": ["/api/v1/instruments"]}}, "INVALID_LABEL"),
        ({"labels": {"route": "/api/v1/instruments", "x": "1"}}, "METRIC_LABELS_CONFLICT"),
        ({"type": "gauge"}, "METRIC_TYPE_CONFLICT"),
        ({"extra": 1}, "INVALID_SAMPLE"),
    ],
)
async def test_a_known_series_is_still_checked(override: dict[str, Any], code: str) -> None:
    runtime = _runtime()
    await track(runtime, httpx.Request("POST", "/", json=sample()).read())
    assert _seen(runtime) == 1
    validated = await runtime.validator.ops([sample(**override)])
    assert [error.code for error in validated.errors] == [code]


async def test_histograms_repeating_their_buckets_and_other_label_orders() -> None:
    runtime = _runtime()
    hist = sample("lag_seconds", type="histogram", labels={"a": "1", "b": "2"}, buckets=[1, 2])
    await track(runtime, httpx.Request("POST", "/", json=hist).read())
    assert not (await runtime.validator.ops([hist])).fresh  # buckets repeated: fast path
    other = await runtime.validator.ops([{**hist, "buckets": [1, 3]}])
    assert [error.code for error in other.errors] == ["METRIC_BUCKETS_CONFLICT"]
    infinite = await runtime.validator.ops([{**hist, "value": "+Inf"}])
    assert [error.code for error in infinite.errors] == ["INVALID_VALUE"]
    swapped = {**hist, "labels": {"b": "2", "a": "1"}}
    validated = await runtime.validator.ops([swapped])
    assert validated.ops[0][1] == (await runtime.validator.ops([hist])).ops[0][1]


async def test_series_refused_by_the_cap_are_not_remembered() -> None:
    runtime = _runtime(metrics_max_series_per_metric=1)
    first = sample(labels={"route": "/a"})
    await track(runtime, httpx.Request("POST", "/", json=first).read())
    flood = {"samples": [sample(labels={"route": f"/r{i}"}) for i in range(50)] + [first]}
    response = await track(runtime, httpx.Request("POST", "/", json=flood).read())
    assert (response.accepted, response.refused) == (1, 50)
    assert _seen(runtime) == 1


async def test_the_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "_MAX_SEEN", 3)
    runtime = _runtime()
    batch = {"samples": [sample(labels={"route": f"/r{i}"}) for i in range(10)]}
    for _ in range(2):
        response = await track(runtime, httpx.Request("POST", "/", json=batch).read())
        assert response.accepted == 10
    assert _seen(runtime) == 3
    states = await runtime.store.snapshot(runtime.registry.families())
    assert sorted(states[0].values.values()) == [2.0] * 10


async def test_served_end_to_end(client: httpx.AsyncClient) -> None:
    for value in (1, 2, 3):
        assert (await client.post("/metrics/track", json=sample(value=value))).status_code == 200
    scrape = parse_scrape((await client.get("/metrics")).text)
    assert sum(scrape["gateway_cache_hits_total"].values()) == 6
