"""Fixtures of the entitlements tests: a clean environment and a fake auth service."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
