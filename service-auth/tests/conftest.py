"""Fixtures of the auth service tests: a fake JWKS over MockTransport, a cache, a verifier."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from access_auth.jwks.cache import JwksCache
from access_auth.metrics import AuthMetrics
from access_auth.settings import DEFAULT_ALGORITHMS, AuthSettings
from access_auth.testing import (
    AUDIENCE,
    CLIENT_ID,
    ISSUER,
    JWKS_URL,
    FakeClock,
    FakeJwks,
    MakeSettings,
    ec_key,
    ed25519_key,
    jwk_of,
    rsa_key,
)
from access_auth.validation.claims import ClaimsPolicy
from access_auth.validation.verifier import TokenVerifier
from access_common.http import HttpClient

ALLOWED = frozenset(DEFAULT_ALGORITHMS)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ACCESS_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("ACCESS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ACCESS_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def jwks() -> FakeJwks:
    """Keycloak's JWKS: an RS256 key k1, an EC P-256 key, an Ed25519 key, an enc key."""
    return FakeJwks(
        keys=[
            jwk_of(rsa_key(), "k1", alg="RS256"),
            jwk_of(ec_key(), "ec1", alg="ES256"),
            jwk_of(ed25519_key(), "ed1"),
            jwk_of(rsa_key("enc"), "enc1", alg="RSA-OAEP", use="enc"),
        ]
    )


@pytest.fixture
async def http(jwks: FakeJwks) -> AsyncIterator[HttpClient]:
    """The service's HTTP client, talking to the fake JWKS."""
    client = HttpClient(timeout=1.0, retries=0, transport=jwks.transport())
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    """The cache's monotonic clock, moved by hand."""
    return FakeClock()


@pytest.fixture
def metrics() -> AuthMetrics:
    """Auth metrics on a private registry."""
    return AuthMetrics(CollectorRegistry())


@pytest.fixture
async def cache(
    http: HttpClient, clock: FakeClock, metrics: AuthMetrics
) -> AsyncIterator[JwksCache]:
    """A JWKS cache (TTL 1 h, early refresh at most every 10 s), not loaded yet."""
    jwks_cache = JwksCache(
        JWKS_URL,
        http,
        allowed=ALLOWED,
        ttl=3600,
        min_refresh_interval=10,
        metrics=metrics,
        clock=clock,
    )
    yield jwks_cache
    await jwks_cache.aclose()


@pytest.fixture
def policy() -> ClaimsPolicy:
    """The claims policy of the Keycloak realm used in tests."""
    return ClaimsPolicy(issuer=ISSUER, audiences=frozenset({AUDIENCE}), client_id=CLIENT_ID)


@pytest.fixture
async def verifier(cache: JwksCache, policy: ClaimsPolicy, metrics: AuthMetrics) -> TokenVerifier:
    """A verifier over a loaded cache, no fallback."""
    assert await cache.refresh()
    return TokenVerifier(primary=cache, policy=policy, allowed=ALLOWED, metrics=metrics)


@pytest.fixture
def make_settings() -> MakeSettings:
    """Settings of a non-local deployment against the fake JWKS, with overrides."""

    def build(**overrides: Any) -> AuthSettings:
        values: dict[str, Any] = {
            "env": "test",
            "jwks_url": JWKS_URL,
            "jwt_issuer": ISSUER,
            "jwt_audience": [AUDIENCE],
            "jwt_client_id": CLIENT_ID,
            "jwks_min_refresh_interval_seconds": 0,
        }
        values.update(overrides)
        return AuthSettings(**values)

    return build
