"""Helpers for tests of the metrics service and of its pushers: samples and parsed scrapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Series", "parse_scrape", "sample", "served"]

Series = dict[str, dict[tuple[tuple[str, str], ...], float]]


def sample(name: str = "gateway_cache_hits_total", **fields: Any) -> dict[str, Any]:
    """A valid counter sample as a pusher sends it, with overrides."""
    base: dict[str, Any] = {
        "name": name,
        "type": "counter",
        "value": 1,
        "labels": {"route": "/api/v1/instruments"},
        "source": "gateway",
    }
    base.update(fields)
    return base


def parse_scrape(text: str) -> Series:
    """{sample name: {sorted (label, value) pairs: value}} of a text exposition."""
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield a client that calls it in process."""
    from asgi_lifespan import LifespanManager  # noqa: PLC0415 - a dev dependency, tests only

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
            yield client
