"""Settings: ACCESS_ prefix, errors naming the variable, placeholder secrets refused."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from access_common.settings import (
    PeerSettings,
    ServiceSettings,
    SettingsError,
    StoreSettings,
    load_settings,
)


class WithSecret(ServiceSettings):
    api_secret: SecretStr = SecretStr("changeme")


def test_reads_access_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_PORT", "9100")
    monkeypatch.setenv("ACCESS_LOG_LEVEL", "debug")
    settings = load_settings(ServiceSettings)
    assert settings.port == 9100
    assert settings.log_level == "debug"


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_PORT", "not-a-port")
    with pytest.raises(SettingsError, match="ACCESS_PORT"):
        load_settings(ServiceSettings)


def test_bad_dsn_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_POSTGRES_DSN", "mysql://nope")
    with pytest.raises(SettingsError, match="ACCESS_POSTGRES_DSN"):
        load_settings(StoreSettings)


def test_placeholder_secret_refused_outside_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_ENV", "production")
    with pytest.raises(SettingsError, match="ACCESS_API_SECRET"):
        load_settings(WithSecret)
    monkeypatch.setenv("ACCESS_API_SECRET", "a-real-secret-of-some-length")
    assert load_settings(WithSecret).api_secret.get_secret_value().startswith("a-real")


def test_placeholder_secret_allowed_in_local() -> None:
    assert load_settings(WithSecret, env="local").env == "local"


def test_seed_alias_for_metrics_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_METRICS_ENDPOINT", "http://metrics:8012")
    assert load_settings(PeerSettings).metrics_service_url == "http://metrics:8012"


def test_settings_are_frozen() -> None:
    settings = ServiceSettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]
