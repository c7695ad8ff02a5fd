"""Observability tests: no ACCESS_* variable of the developer's shell leaks into them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ACCESS_") and not name.startswith("ACCESS_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ACCESS_STATE_DIR", str(tmp_path / "state"))
