"""Webhook test fixtures: a gateway app on memory backends, per test."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from access_common.backends.bus import Bus
from access_common.backends.kv import KeyValue
from access_gateway.webhooks.testing import AppClient, gateway_client, settings


@pytest.fixture
def make_client(tmp_path: Path) -> AppClient:
    """``async with make_client(**settings) as client``: a gateway on memory backends."""

    def factory(
        *,
        kv: KeyValue | None = None,
        bus: Bus | None = None,
        client: tuple[str, int] = ("127.0.0.1", 50000),
        **overrides: Any,
    ) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return gateway_client(settings(tmp_path, **overrides), kv=kv, bus=bus, client=client)

    return factory
