"""The app: lifespan, health, metrics, start-up without Keycloak, and no token in any log."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from access_auth.app import create_app
from access_auth.settings import AuthSettings
from access_auth.testing import FakeJwks, MakeSettings, claims, rsa_key, serve, sign
from access_common.http import HttpClient
from access_common.log import JsonFormatter


async def _health(client: httpx.AsyncClient) -> dict[str, object]:
    body: dict[str, object] = (await client.get("/health")).json()
    return body


async def test_health_and_metrics_with_a_healthy_jwks(
    make_settings: MakeSettings, http: HttpClient, jwks: FakeJwks
) -> None:
    async with serve(create_app(make_settings(), http=http)) as client:
        health = await _health(client)
        assert health["service"] == "auth"
        assert health["status"] == "ok"
        assert health["dependencies"] == {"jwks": "ok"}
        assert (await client.get("/health/ready")).status_code == 200
        token = sign(claims(), rsa_key())
        await client.post("/auth/verify", headers={"Authorization": f"Bearer {token}"})
        await client.post("/auth/verify", headers={"Authorization": "Bearer nope"})
        text = (await client.get("/metrics")).text
    assert 'auth_verifications_total{result="ok"} 1.0' in text
    assert 'auth_verifications_total{result="TOKEN_MALFORMED"} 1.0' in text
    assert 'auth_verification_seconds_bucket{le="5e-05"}' in text
    assert 'auth_jwks_refresh_total{result="ok"} 1.0' in text
    assert "auth_jwks_refresh_seconds_count 1.0" in text
    assert "auth_jwks_keys 3.0" in text
    assert "auth_jwks_age_seconds " in text
    assert jwks.calls == 1


async def test_start_without_keycloak_serves_503_then_recovers(
    make_settings: MakeSettings, http: HttpClient, jwks: FakeJwks
) -> None:
    jwks.fail = httpx.ConnectError
    settings = make_settings(jwks_min_refresh_interval_seconds=0.5)
    token = sign(claims(), rsa_key())
    auth = {"Authorization": f"Bearer {token}"}
    async with serve(create_app(settings, http=http)) as client:
        health = await _health(client)
        assert health["status"] == "down"
        assert health["dependencies"] == {"jwks": "down"}
        assert (await client.get("/health/ready")).status_code == 503
        response = await client.post("/auth/verify", headers=auth)
        assert response.status_code == 503
        assert response.json()["code"] == "KEYS_UNAVAILABLE"
        assert response.headers["retry-after"] == "1"
        assert "auth_jwks_age_seconds +Inf" in (await client.get("/metrics")).text
        # Keycloak comes up: the background retry loads the keys, no restart, no request.
        jwks.fail = None
        for _ in range(40):
            if (await _health(client))["status"] == "ok":
                break
            await asyncio.sleep(0.05)
        assert (await _health(client))["dependencies"] == {"jwks": "ok"}
        assert (await client.post("/auth/verify", headers=auth)).status_code == 200


async def test_a_failed_refresh_degrades_health_but_verification_goes_on(
    make_settings: MakeSettings, http: HttpClient, jwks: FakeJwks, caplog: pytest.LogCaptureFixture
) -> None:
    auth = {"Authorization": f"Bearer {sign(claims(), rsa_key())}"}
    async with serve(create_app(make_settings(), http=http)) as client:
        jwks.status = 500
        unknown = {"Authorization": f"Bearer {sign(claims(), rsa_key(), kid='k-new')}"}
        with caplog.at_level(logging.WARNING):
            assert (await client.post("/auth/verify", headers=unknown)).status_code == 401
        assert any(getattr(r, "code", "") == "JWKS_REFRESH_FAILED" for r in caplog.records)
        assert (await _health(client))["dependencies"] == {"jwks": "degraded"}
        assert (await client.get("/health/ready")).status_code == 200
        assert (await client.post("/auth/verify", headers=auth)).status_code == 200


async def test_test_env_without_any_key_source_is_down_not_crashed() -> None:
    async with serve(create_app(AuthSettings(env="test"))) as client:
        assert (await _health(client))["dependencies"] == {"jwks": "down"}
        token = sign(claims(), rsa_key())
        response = await client.post("/auth/verify", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 503


async def test_fallback_configured_reports_degraded_when_keycloak_is_out(
    make_settings: MakeSettings, http: HttpClient, jwks: FakeJwks
) -> None:
    secret = "operator-fallback-secret-0123456789abcdef"
    jwks.status = 503
    settings = make_settings(jwks_fallback_enabled=True, jwt_secret_key=secret)
    async with serve(create_app(settings, http=http)) as client:
        assert (await _health(client))["dependencies"] == {"jwks": "degraded"}
        token = sign(claims(), secret.encode(), "HS256", kid=None)
        response = await client.post("/auth/verify", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200


async def test_the_app_owns_its_http_client_when_none_is_given(make_settings: MakeSettings) -> None:
    # No transport injected: the JWKS host does not resolve; the service still starts.
    settings = make_settings(
        jwks_url="http://127.0.0.1:9/certs", http_timeout_seconds=0.2, http_retries=0
    )
    async with serve(create_app(settings)) as client:
        assert (await _health(client))["dependencies"] == {"jwks": "down"}


async def test_no_token_secret_or_signature_is_ever_logged(
    make_settings: MakeSettings, http: HttpClient, jwks: FakeJwks, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "operator-fallback-secret-0123456789abcdef"
    settings = make_settings(jwks_fallback_enabled=True, jwt_secret_key=secret)
    good = sign(claims(), rsa_key())
    tokens = [
        good,
        sign(claims(exp=1), rsa_key()),
        sign(claims(), rsa_key("attacker")),
        sign(claims(), rsa_key(), kid="unknown-kid"),
        sign(claims(iss="evil"), rsa_key()),
        good[:-10],
        good + "xyz",
        sign(claims(), secret.encode(), "HS256", kid=None),
    ]
    with caplog.at_level(logging.DEBUG):
        async with serve(create_app(settings, http=http)) as client:
            for token in tokens:
                await client.post("/auth/verify", headers={"Authorization": f"Bearer {token}"})
                await client.post("/auth/verify-ws", json={"token": token})
            jwks.status = 500  # outage: fallback active, refresh failures logged
            for token in tokens:
                await client.post("/auth/verify", headers={"Authorization": f"Bearer {token}"})
            await client.post("/auth/dev/token", json={})
    assert caplog.records
    formatter = JsonFormatter("auth")
    logged = "\n".join(
        f"{r.getMessage()} {r.__dict__!r} {formatter.format(r)}" for r in caplog.records
    )
    assert "JWKS_REFRESH_FAILED" in logged
    for token in tokens:
        for part in [token, *(p for p in token.split(".") if len(p) > 8)]:
            assert part not in logged
    assert secret not in logged
