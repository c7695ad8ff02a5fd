"""Fixtures of the entitlements tests: a clean environment and a fake auth service."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from access_common.testing import backend_url
from access_entitlements.testing import FakeAuth


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ACCESS_* variable of the developer's shell leaks into a test (test backends aside)."""
    for name in list(os.environ):
        kept = name.startswith("ACCESS_TEST_") or name == "ACCESS_REQUIRE_BACKENDS"
        if name.startswith("ACCESS_") and not kept:
            monkeypatch.delenv(name)
    monkeypatch.setenv("ACCESS_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def auth() -> FakeAuth:
    """The auth service, faked over MockTransport."""
    return FakeAuth()


@pytest.fixture
async def pg_schema_dsn() -> AsyncIterator[str]:
    """The test PostgreSQL with a schema of this test's own on the search path (dropped after)."""
    base = backend_url("postgres")
    schema = f"ent_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}search_path={schema}"
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()
