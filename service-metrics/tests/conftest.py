"""Fixtures of the metrics service tests: an app served in process, settings without env leaks."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from access_metrics.app import create_app
from access_metrics.settings import MetricsSettings
from access_metrics.testing import served

Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ACCESS_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("ACCESS_") and not name.startswith("ACCESS_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ACCESS_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def serve() -> Serve:
    """``async with serve(**settings) as client``: a metrics app with those settings."""

    def build(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        values: dict[str, Any] = {"env": "test"}
        values.update(overrides)
        return served(create_app(MetricsSettings(**values)))

    return build


@pytest.fixture
async def client(serve: Serve) -> AsyncIterator[httpx.AsyncClient]:
    """A metrics app on embedded defaults with small limits (5 series per metric)."""
    async with serve(metrics_max_series_per_metric=5, metrics_max_batch_samples=200) as c:
        yield c
