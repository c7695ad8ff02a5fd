"""Locate Debian's promtool and prometheus (scripts/prometheus.sh installs them)."""

from __future__ import annotations

import shutil

import pytest

from access_common.testing import backends_required

__all__ = ["binary"]


def binary(name: str) -> str:
    """The path of ``promtool`` or ``prometheus``; fails under make test/CI when missing."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (scripts/prometheus.sh install)"
        if backends_required():
            pytest.fail(message)
        pytest.skip(message)
    return found
