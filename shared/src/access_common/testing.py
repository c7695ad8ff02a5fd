"""Test helpers shared by every package's tests: real-backend URLs that never skip in CI."""

from __future__ import annotations

import os

import pytest

__all__ = ["backend_url", "backends_required"]

_VARIABLES = {
    "redis": "ACCESS_TEST_REDIS_URL",
    "postgres": "ACCESS_TEST_POSTGRES_DSN",
    "nats": "ACCESS_TEST_NATS_URL",
    "kafka": "ACCESS_TEST_KAFKA_BOOTSTRAP",
    "keycloak": "ACCESS_TEST_KEYCLOAK_URL",
}


def backends_required() -> bool:
    """True under `make test` and in CI: a missing backend is then a failure, not a skip."""
    flags = (os.environ.get("CI", ""), os.environ.get("ACCESS_REQUIRE_BACKENDS", ""))
    return any(v.strip().lower() in {"1", "true", "yes"} for v in flags)


def backend_url(name: str) -> str:
    """The URL of the real backend started by scripts/backends.sh (or keycloak.sh).

    Fails the test when the backend is required but not configured; skips it only on a
    developer's ad-hoc run without backends.
    """
    variable = _VARIABLES[name]
    url = os.environ.get(variable)
    if url:
        return url
    message = f"{name}: {variable} is not set (start it with scripts/backends.sh up)"
    if backends_required():
        pytest.fail(message)
    pytest.skip(message)
