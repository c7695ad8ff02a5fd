from __future__ import annotations

from pathlib import Path

import pytest

from access_auth.settings import DEFAULT_ALGORITHMS, AuthSettings
from access_common.settings import SettingsError, load_settings

JWKS = "https://kc.example/realms/access/protocol/openid-connect/certs"
GOOD_SECRET = "s" * 40


def test_defaults_are_local_with_the_dev_issuer() -> None:
    settings = load_settings(AuthSettings)
    assert settings.port == 8010
    assert settings.env == "local"
    assert settings.dev_issuer_enabled
    assert settings.trusts_dev_issuer
    assert settings.jwt_audience == ["access-api"]
    assert settings.jwt_algorithms == list(DEFAULT_ALGORITHMS)
    assert settings.jwt_leeway_seconds == 30
    assert settings.jwks_cache_ttl_seconds == 3600
    assert settings.jwt_max_token_bytes == 8192
    assert settings.jwt_tenant_claim == "tenant_id"
    assert settings.jwks_fallback_enabled is False
    assert settings.dev_issuer == "http://127.0.0.1:8010/auth/dev"
    assert settings.expected_issuer == settings.dev_issuer
    assert settings.dev_key_path == settings.state_dir / "auth" / "dev-signing-key.pem"


def test_lists_accept_commas_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_JWT_AUDIENCE", "access-api, other ,")
    monkeypatch.setenv("ACCESS_JWT_ALGORITHMS", '["RS256", "ES256"]')
    settings = load_settings(AuthSettings)
    assert settings.jwt_audience == ["access-api", "other"]
    assert settings.jwt_algorithms == ["RS256", "ES256"]


@pytest.mark.parametrize("algs", ["RS256,HS256", "none", "RS256,None", "HS512", ""])
def test_algorithm_allow_list_refuses_hmac_and_none(
    monkeypatch: pytest.MonkeyPatch, algs: str
) -> None:
    monkeypatch.setenv("ACCESS_JWT_ALGORITHMS", algs)
    with pytest.raises(SettingsError, match="ACCESS_JWT_ALGORITHMS"):
        load_settings(AuthSettings)


def test_short_secret_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_JWT_SECRET_KEY", "too-short-secret-value")
    with pytest.raises(SettingsError) as info:
        load_settings(AuthSettings)
    assert "ACCESS_JWT_SECRET_KEY" in str(info.value)
    assert "too-short-secret-value" not in str(info.value)


def test_placeholder_secret_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "ACCESS_ENV": "production",
        "ACCESS_JWKS_URL": JWKS,
        "ACCESS_JWT_ISSUER": "https://kc.example/realms/access",
        "ACCESS_JWT_SECRET_KEY": "changeme",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="ACCESS_JWT_SECRET_KEY"):
        load_settings(AuthSettings)


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_jwks_url_required_outside_local_and_test(env: str) -> None:
    with pytest.raises(SettingsError, match="ACCESS_JWKS_URL is required"):
        load_settings(AuthSettings, env=env)


def test_issuer_required_with_a_jwks_outside_local() -> None:
    with pytest.raises(SettingsError, match="ACCESS_JWT_ISSUER"):
        load_settings(AuthSettings, env="production", jwks_url=JWKS)
    with pytest.raises(SettingsError, match="ACCESS_JWT_AUDIENCE or ACCESS_JWT_CLIENT_ID"):
        load_settings(
            AuthSettings, env="production", jwks_url=JWKS, jwt_issuer="x", jwt_audience=[]
        )
    settings = load_settings(
        AuthSettings, env="production", jwks_url=JWKS, jwt_issuer="https://kc.example/realms/a"
    )
    assert not settings.dev_issuer_enabled
    assert not settings.trusts_dev_issuer
    assert settings.expected_issuer == "https://kc.example/realms/a"


def test_jwks_url_must_be_http() -> None:
    with pytest.raises(SettingsError, match="ACCESS_JWKS_URL"):
        load_settings(AuthSettings, jwks_url="file:///etc/passwd")


def test_local_with_a_jwks_does_not_trust_the_dev_key() -> None:
    settings = load_settings(AuthSettings, jwks_url=JWKS)
    assert settings.dev_issuer_enabled
    assert not settings.trusts_dev_issuer
    assert settings.expected_issuer is None


def test_fallback_needs_key_material(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="ACCESS_JWKS_FALLBACK_ENABLED"):
        load_settings(AuthSettings, jwks_fallback_enabled=True)
    assert load_settings(AuthSettings, jwks_fallback_enabled=True, jwt_secret_key=GOOD_SECRET)
    assert load_settings(
        AuthSettings, jwks_fallback_enabled=True, jwks_fallback_file=tmp_path / "f.json"
    )


def test_dev_issuer_url_follows_host_and_port_or_override() -> None:
    any_host = AuthSettings(host="0.0.0.0", port=9000)  # noqa: S104
    assert any_host.dev_issuer == "http://127.0.0.1:9000/auth/dev"
    assert AuthSettings(host="::1").dev_issuer == "http://[::1]:8010/auth/dev"
    custom = AuthSettings(dev_issuer_url="http://auth.local/auth/dev/")
    assert custom.dev_issuer == "http://auth.local/auth/dev"


def test_test_env_may_run_without_a_jwks() -> None:
    settings = load_settings(AuthSettings, env="test")
    assert not settings.dev_issuer_enabled
    assert settings.expected_issuer is None
