"""Configuration from ``ACCESS_*`` variables: one base class and mixins per backend.

Each service declares one settings class that inherits the base and only the mixins
it needs, so it reads only the variables it uses. :func:`load_settings` reads them
once and turns a bad value into a one-line message naming the variable.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "PLACEHOLDER_SECRETS",
    "BusSettings",
    "KvSettings",
    "PeerSettings",
    "ServiceSettings",
    "SettingsError",
    "StoreSettings",
    "load_settings",
]

Environment = Literal["local", "test", "dev", "staging", "production"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]

PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "changethis", "secret", "password", "placeholder", "todo", "xxx"}
)

_PREFIX = "ACCESS_"
_REPO_ROOT = Path(__file__).resolve().parents[3]


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


@lru_cache(maxsize=1)
def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - fixed argv, no shell
            cwd=_REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


class ServiceSettings(BaseSettings):
    """What every service reads: environment, logging, listening address, tracing, limits."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore", frozen=True)

    env: Environment = "local"
    log_level: LogLevel = "info"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    version: str = "0.1.0"
    commit: str = Field(default_factory=_git_commit)
    state_dir: Path = Field(
        default=_REPO_ROOT / ".local" / "state",
        description="Where a service keeps local state (dev keys, SQLite files)",
    )
    enable_tracing: bool = False
    otel_exporter: str = "http://127.0.0.1:4318"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    http_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    http_retries: int = Field(default=2, ge=0, le=5)
    health_check_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=120)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        if self.env in {"local", "test"}:
            return self
        for name, value in self:
            if (
                isinstance(value, SecretStr)
                and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS
            ):
                raise ValueError(
                    f"{_PREFIX}{name.upper()} holds a placeholder secret; "
                    f"set a real one in env {self.env!r}"
                )
        return self


class KvSettings(BaseSettings):
    """Key-value backend: Redis when a URL is set, otherwise in-process."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore", frozen=True)

    redis_url: str | None = Field(default=None, pattern=r"^(rediss?|unix)://")
    redis_ssl_enabled: bool = False


class StoreSettings(BaseSettings):
    """Relational backend: PostgreSQL when a DSN is set, otherwise a SQLite file."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore", frozen=True)

    postgres_dsn: str | None = Field(default=None, pattern=r"^postgres(ql)?://")
    sqlite_path: Path | None = None


class BusSettings(BaseSettings):
    """Event buses: NATS JetStream and/or Kafka when configured, otherwise in-process."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore", frozen=True)

    nats_url: str | None = Field(default=None, pattern=r"^(nats|tls)://")
    kafka_bootstrap: str | None = None


class PeerSettings(BaseSettings):
    """Base URLs of the other services this one calls over HTTP."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore", frozen=True)

    auth_service_url: str = "http://127.0.0.1:8010"
    entitlements_service_url: str = "http://127.0.0.1:8011"
    metrics_service_url: str = Field(
        default="http://127.0.0.1:8012",
        validation_alias=AliasChoices("ACCESS_METRICS_SERVICE_URL", "ACCESS_METRICS_ENDPOINT"),
    )


S = TypeVar("S", bound=BaseSettings)


def _variable(loc: tuple[int | str, ...]) -> str:
    return _PREFIX + "_".join(str(p) for p in loc if isinstance(p, str)).upper()


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Read settings from the environment; raise SettingsError naming each bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_variable(err['loc']) if err['loc'] else 'settings'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise SettingsError(f"invalid configuration: {problems}") from None
