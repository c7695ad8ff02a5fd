"""Fixtures of the shipping checks: one local stack on free ports for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .stack import LocalStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The five services and a NATS JetStream, started once, on free ports."""
    running = LocalStack(tmp_path_factory.mktemp("stack"))
    running.start()
    try:
        yield running
    finally:
        running.stop()
