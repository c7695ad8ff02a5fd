"""Fixtures of the Keycloak interop tests: the real Keycloak of scripts/keycloak.sh.

The URL comes from ``ACCESS_TEST_KEYCLOAK_URL`` (``make test`` sources
``.local/backends/keycloak.env``); without it the tests skip on an ad-hoc run and fail
under ``make test``/CI (access_common.testing.backend_url).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from access_auth.app import create_app
from access_auth.settings import AuthSettings
from access_auth.testing import serve
from access_common.testing import backend_url

from . import keycloak_admin as kc

AuthSettingsFactory = Callable[..., AuthSettings]
AuthClientFactory = Callable[[AuthSettings], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def keycloak_url() -> str:
    """Base URL of the real Keycloak."""
    return backend_url("keycloak").rstrip("/")


@pytest.fixture
def realm() -> str:
    """The realm imported by scripts/keycloak.sh."""
    return os.environ.get("ACCESS_TEST_KEYCLOAK_REALM", kc.REALM)


@pytest.fixture
def auth_settings(keycloak_url: str, realm: str, tmp_path: Path) -> AuthSettingsFactory:
    """Settings of an auth service in a non-local env pointed at the realm, with overrides."""

    def build(**overrides: Any) -> AuthSettings:
        values: dict[str, Any] = {
            "env": "test",
            "state_dir": tmp_path / "state",
            "jwks_url": kc.jwks_uri(keycloak_url, realm),
            "jwt_issuer": kc.issuer(keycloak_url, realm),
            "jwt_audience": [kc.AUDIENCE],
            "jwt_client_id": kc.CLIENT_ID,
            "jwks_min_refresh_interval_seconds": 1,
            "http_timeout_seconds": 5,
        }
        values.update(overrides)
        return AuthSettings(**values)

    return build


@pytest.fixture
def auth_client() -> AuthClientFactory:
    """Start an auth app (its own HTTP client, real HTTP to Keycloak) and call it in process."""

    def start(settings: AuthSettings) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return serve(create_app(settings))

    return start


@pytest.fixture
async def auth(
    auth_settings: AuthSettingsFactory, auth_client: AuthClientFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth service with the realm's default configuration."""
    async with auth_client(auth_settings()) as client:
        yield client
