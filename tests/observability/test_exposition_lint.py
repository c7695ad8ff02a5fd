"""The metrics service's text exposition passes `promtool check metrics` (format and naming)."""

from __future__ import annotations

import subprocess

from access_metrics.app import create_app
from access_metrics.settings import MetricsSettings
from access_metrics.testing import sample, served

from .prom import binary


async def test_promtool_accepts_the_scrape_with_every_metric_type() -> None:
    async with served(create_app(MetricsSettings(env="test"))) as client:
        batch = [
            sample(labels={"route": 'quote " and \\ backslash'}),
            sample("gateway_upstream_seconds", type="histogram", value=0.1, labels={},
                   help="Upstream latency", buckets=[0.05, 0.5]),
            sample("gateway_pool_size", type="gauge", value="NaN", labels={"pool": "a"}),
        ]  # fmt: skip
        assert (await client.post("/metrics/track", json={"samples": batch})).status_code == 200
        text = (await client.get("/metrics", headers={"accept": "text/plain"})).text
    result = subprocess.run(
        [binary("promtool"), "check", "metrics"], input=text, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gateway_upstream_seconds_bucket" in text
