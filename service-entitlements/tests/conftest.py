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
        if name.startswith("ACCESS_") and not name.startswith("ACCESS_TEST_"):
            if name != "ACCESS_REQUIRE_BACKENDS":
                monkeypatch.delenv(name)
    monkeypatch.setenv("ACCESS_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def auth() -> FakeAuth:
    """The auth service, faked over MockTransport."""
    return FakeAuth()
