"""Metrics service app: port, health, one /metrics route, the own metrics it exports."""

from __future__ import annotations

import httpx

from access_metrics.settings import MetricsSettings


async def test_healthy_without_dependencies(client: httpx.AsyncClient) -> None:
    assert MetricsSettings().port == 8012
    health = (await client.get("/health")).json()
    metrics = (await client.get("/metrics")).text
    assert health["status"] == "ok"
    assert health["dependencies"] == {}
    assert 'service_info{service="metrics",version="0.1.0"} 1.0' in metrics
    for name in (
        "metrics_samples_accepted_total",
        "metrics_samples_refused_total",
        "metrics_ingest_duration_seconds",
        "metrics_families",
        "metrics_exporter_leader",
    ):
        assert f"# TYPE {name}" in metrics or f"# TYPE {name.removesuffix('_total')}" in metrics


async def test_openapi_lists_one_metrics_route_and_the_track_route(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/metrics/track" in spec["paths"]
    assert list(spec["paths"]["/metrics"]) == ["get"]
    assert "openmetrics" in str(spec["paths"]["/metrics"]["get"]["responses"]["200"])
