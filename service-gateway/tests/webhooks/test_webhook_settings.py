"""Seed 004's variable names are read as written and with ACCESS_; bad values refused."""

from __future__ import annotations

import pytest

from access_common.settings import SettingsError, load_settings
from access_gateway.settings import GatewaySettings

SEED_VARIABLES = {
    "API_KEY_HMAC_SECRET": "a" * 32 + "," + "b" * 32,
    "NATS_URL": "nats://127.0.0.1:4999",
    "NATS_STREAM": "signals-stream",
    "NATS_SUBJECT_SIGNALS_RAW": "sig.raw",
    "NATS_SUBJECT_SIGNALS_NORMALIZED": "sig.norm",
    "ALLOWED_SOURCES": "tradingview,custom",
    "REPLAY_WINDOW_SEC": "120",
    "IDEMPOTENCY_TTL_SEC": "600",
    "RATE_LIMIT_RPS": "200",
    "RATE_LIMIT_SOURCES": "tradingview:100,custom:50",
    "RATE_LIMIT_DEFAULT": "25",
    "MAINTENANCE_MODE": "true",
}


def _check(settings: GatewaySettings) -> None:
    assert [s.get_secret_value() for s in settings.hmac_secrets()] == ["a" * 32, "b" * 32]
    assert settings.nats_url == "nats://127.0.0.1:4999"
    assert settings.webhook_nats_stream == "signals-stream"
    assert (settings.webhook_subject_raw, settings.webhook_subject_normalized) == (
        "sig.raw",
        "sig.norm",
    )
    assert settings.webhook_allowed_sources == ("tradingview", "custom")
    assert settings.served_sources() == ("tradingview", "custom", "generic")
    assert settings.webhook_replay_window_sec == 120
    assert settings.webhook_idempotency_ttl_sec == 600
    assert settings.webhook_rate_limit_rps == 200
    assert settings.webhook_rate_limit_sources == {"tradingview": 100, "custom": 50}
    assert settings.webhook_rate_limit_default == 25
    assert settings.webhook_maintenance_mode is True


@pytest.mark.parametrize("prefix", ["", "ACCESS_"])
def test_seed_names_with_and_without_prefix(prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SEED_VARIABLES.items():
        monkeypatch.setenv(prefix + name, value)
    _check(GatewaySettings(env="production"))


def test_access_prefix_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLAY_WINDOW_SEC", "100")
    monkeypatch.setenv("ACCESS_REPLAY_WINDOW_SEC", "200")
    assert GatewaySettings().webhook_replay_window_sec == 200


def test_defaults_follow_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SEED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv("ACCESS_" + name, raising=False)
    settings = GatewaySettings()
    assert settings.webhook_nats_stream == "trading-events"
    assert settings.webhook_subject_raw == "signals.raw"
    assert settings.webhook_subject_normalized == "signals.normalized"
    assert settings.webhook_allowed_sources == ("tradingview", "custom", "partner")
    assert (settings.webhook_replay_window_sec, settings.webhook_idempotency_ttl_sec) == (300, 3600)
    assert settings.webhook_maintenance_mode is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RATE_LIMIT_SOURCES", "tradingview=100"),
        ("RATE_LIMIT_SOURCES", "tradingview:0"),
        ("ALLOWED_SOURCES", "Trading View"),
        ("REPLAY_WINDOW_SEC", "0"),
        ("NATS_URL", "http://nats"),
        ("ACCESS_WEBHOOK_TRUSTED_PROXIES", "not-a-network"),
    ],
)
def test_bad_values_name_the_problem(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError):
        load_settings(GatewaySettings)


def test_production_refuses_placeholder_short_secrets_and_no_nats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222")
    for secret in ("changeme", "old-secret,new-secret", "a" * 32 + ",short"):
        monkeypatch.setenv("API_KEY_HMAC_SECRET", secret)
        with pytest.raises(SettingsError, match="API_KEY_HMAC_SECRET"):
            load_settings(GatewaySettings, env="production")
    monkeypatch.setenv("API_KEY_HMAC_SECRET", "a" * 40)
    monkeypatch.delenv("ACCESS_REDIS_URL", raising=False)
    with pytest.raises(SettingsError, match="ACCESS_REDIS_URL"):
        load_settings(GatewaySettings, env="production", workers=2)
    monkeypatch.delenv("NATS_URL")
    with pytest.raises(SettingsError, match="NATS_URL"):
        load_settings(GatewaySettings, env="production")


def test_token_scheme_needs_an_allow_list() -> None:
    with pytest.raises(SettingsError, match="allowed_ips"):
        load_settings(
            GatewaySettings,
            webhook_sources={"tradingview": {"scheme": "token", "secrets": ["t" * 40]}},
        )


def test_sources_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ACCESS_WEBHOOK_SOURCES",
        '{"tradingview": {"scheme": "token", "secrets": ["s3cr3t-value"],'
        ' "allowed_ips": ["52.89.214.238"]}}',
    )
    source = GatewaySettings().webhook_sources["tradingview"]
    assert source.scheme == "token"
    assert "s3cr3t-value" not in repr(source)


def test_configured_source_must_be_allowed() -> None:
    with pytest.raises(SettingsError, match="ALLOWED_SOURCES"):
        load_settings(
            GatewaySettings,
            webhook_allowed_sources="custom",
            webhook_sources={"tradingview": {"scheme": "hmac"}},
        )
