"""Webhook configuration: seed 004's variable names, read as written and with ``ACCESS_``.

``WebhookSettings`` is a mixin the gateway's settings class inherits. Each seed variable
(``API_KEY_HMAC_SECRET``, ``NATS_URL``, ``ALLOWED_SOURCES``, ``RATE_LIMIT_RPS``, …) is read
under its seed name and under ``ACCESS_<name>``; the variables the seed does not name are
``ACCESS_WEBHOOK_*`` only. The table is in docs/configuration.md.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal, Self

import orjson
from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from access_common.settings import PLACEHOLDER_SECRETS

__all__ = ["SourceConfig", "WebhookSettings", "seed_alias"]

_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LOCAL_ENVS = {"local", "test"}
# Seed 004: "echo $API_KEY_HMAC_SECRET | wc -c (should be >32)".
_MIN_SECRET_CHARS = 32

Scheme = Literal["hmac", "standard", "token"]
Shape = Literal["tradingview", "generic"]
TokenIn = Literal["body", "path", "either"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def seed_alias(name: str) -> AliasChoices:
    """Read a seed variable under ``ACCESS_<NAME>`` first, then as the seed writes it."""
    return AliasChoices(f"ACCESS_{name}", name)


def _split(value: Any) -> Any:
    """``a,b , c`` → ``["a", "b", "c"]``; JSON lists and non-strings pass through."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return orjson.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class SourceConfig(BaseModel):
    """How one source authenticates and which payload shape it sends."""

    model_config = {"frozen": True, "extra": "forbid"}

    scheme: Scheme = "hmac"
    shape: Shape | None = None
    # hmac: overrides API_KEY_HMAC_SECRET for this source; standard: the whsec_ secrets;
    # token: the accepted tokens. Several = rotation.
    secrets: tuple[SecretStr, ...] = ()
    token_in: TokenIn = "body"  # noqa: S105 - where the token travels
    token_field: str = Field(default="token", min_length=1, max_length=64)
    allowed_ips: tuple[Network, ...] = ()

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.scheme in ("standard", "token") and not self.secrets:
            raise ValueError(f"scheme {self.scheme!r} needs at least one secret")
        if self.scheme == "token" and not self.allowed_ips:
            # A token in a body or URL is only as good as the channel: pin the senders.
            raise ValueError("scheme 'token' needs allowed_ips (the sender's addresses)")
        return self


class WebhookSettings(BaseSettings):
    """Signed webhook ingestion (seed 004): secrets, sources, replay, idempotency, limits."""

    model_config = SettingsConfigDict(
        env_prefix="ACCESS_", extra="ignore", frozen=True, populate_by_name=True
    )

    nats_url: str | None = Field(
        default=None, pattern=r"^(nats|tls)://", validation_alias=seed_alias("NATS_URL")
    )
    api_key_hmac_secret: SecretStr | None = Field(
        default=None, validation_alias=seed_alias("API_KEY_HMAC_SECRET")
    )
    webhook_nats_stream: str = Field(
        default="trading-events",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        validation_alias=seed_alias("NATS_STREAM"),
    )
    webhook_subject_raw: str = Field(
        default="signals.raw",
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        validation_alias=seed_alias("NATS_SUBJECT_SIGNALS_RAW"),
    )
    webhook_subject_normalized: str = Field(
        default="signals.normalized",
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        validation_alias=seed_alias("NATS_SUBJECT_SIGNALS_NORMALIZED"),
    )
    webhook_allowed_sources: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("tradingview", "custom", "partner"),
        validation_alias=seed_alias("ALLOWED_SOURCES"),
    )
    webhook_replay_window_sec: int = Field(
        default=300, ge=1, le=3600, validation_alias=seed_alias("REPLAY_WINDOW_SEC")
    )
    webhook_idempotency_ttl_sec: int = Field(
        default=3600, ge=1, le=7 * 24 * 3600, validation_alias=seed_alias("IDEMPOTENCY_TTL_SEC")
    )
    webhook_rate_limit_rps: int | None = Field(
        default=100, ge=1, validation_alias=seed_alias("RATE_LIMIT_RPS")
    )
    webhook_rate_limit_sources: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=dict, validation_alias=seed_alias("RATE_LIMIT_SOURCES")
    )
    webhook_rate_limit_default: int | None = Field(
        default=None, ge=1, validation_alias=seed_alias("RATE_LIMIT_DEFAULT")
    )
    webhook_maintenance_mode: bool = Field(
        default=False, validation_alias=seed_alias("MAINTENANCE_MODE")
    )
    # Not in the seed: ACCESS_WEBHOOK_* only.
    webhook_sources: dict[str, SourceConfig] = Field(default_factory=dict)
    webhook_trusted_proxies: Annotated[tuple[Network, ...], NoDecode] = ()
    webhook_max_body_bytes: int = Field(default=65_536, ge=256)
    webhook_buffer_max: int = Field(default=1000, ge=1)
    webhook_buffer_wait_sec: float = Field(default=5.0, gt=0, le=60)
    webhook_retry_after_sec: int = Field(default=5, ge=1, le=3600)
    webhook_maintenance_retry_after_sec: int = Field(default=300, ge=1, le=86_400)
    webhook_duplicate_window_sec: int = Field(default=300, ge=1, le=24 * 3600)
    webhook_stream_max_age_sec: int = Field(default=7 * 24 * 3600, ge=60)
    webhook_stream_max_bytes: int = Field(default=1 << 30, ge=1 << 20)
    webhook_kv_prefix: str = Field(default="wh", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")

    @field_validator("webhook_allowed_sources", mode="before")
    @classmethod
    def _parse_sources(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("webhook_allowed_sources")
    @classmethod
    def _check_sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _SOURCE_NAME.match(name):
                raise ValueError(f"invalid source name {name!r} (lower-case letters, digits, -_)")
        return tuple(dict.fromkeys(value))

    @field_validator("webhook_trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("webhook_rate_limit_sources", mode="before")
    @classmethod
    def _parse_source_limits(cls, value: Any) -> Any:
        """``tradingview:100,custom:50`` (seed format) or a JSON object."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("{"):
            return orjson.loads(text)
        limits: dict[str, int] = {}
        for part in _split(text):
            name, sep, number = part.partition(":")
            if not sep or not number.strip().isdigit():
                raise ValueError(f"expected source:requests_per_second, got {part!r}")
            limits[name.strip()] = int(number)
        return limits

    @field_validator("webhook_rate_limit_sources")
    @classmethod
    def _positive_limits(cls, value: dict[str, int]) -> dict[str, int]:
        if any(limit < 1 for limit in value.values()):
            raise ValueError("every per-source limit must be at least 1 request per second")
        return value

    @model_validator(mode="after")
    def _configured_sources_are_served(self) -> Self:
        unknown = sorted(set(self.webhook_sources) - set(self.served_sources()))
        if unknown:
            raise ValueError(
                f"ACCESS_WEBHOOK_SOURCES configures {', '.join(unknown)}, which ALLOWED_SOURCES"
                " does not list"
            )
        return self

    @model_validator(mode="after")
    def _webhook_secrets(self) -> Self:
        env = getattr(self, "env", "local")
        if env in _LOCAL_ENVS:
            return self
        checked: list[tuple[str, SecretStr]] = []
        if self.api_key_hmac_secret is not None:
            checked += [("API_KEY_HMAC_SECRET", s) for s in self.hmac_secrets()]
        for name, source in self.webhook_sources.items():
            checked += [(f"ACCESS_WEBHOOK_SOURCES.{name}", s) for s in source.secrets]
        for where, secret in checked:
            text = secret.get_secret_value()
            if text.strip().lower() in PLACEHOLDER_SECRETS or len(text) < _MIN_SECRET_CHARS:
                raise ValueError(
                    f"{where} holds a placeholder or short secret (< {_MIN_SECRET_CHARS} chars);"
                    f" set a real one in env {env!r}"
                )
        if getattr(self, "workers", 1) > 1 and not getattr(self, "redis_url", None):
            raise ValueError(
                "ACCESS_WORKERS > 1 needs ACCESS_REDIS_URL: nonces and idempotency keys kept"
                " in one worker's memory let replays and duplicates through the others"
            )
        if not self.nats_url:
            raise ValueError(
                f"NATS_URL (ACCESS_NATS_URL) is required in env {env!r}: accepted webhooks "
                "must be durable in JetStream, not in process memory"
            )
        return self

    def hmac_secrets(self) -> tuple[SecretStr, ...]:
        """The comma-separated API_KEY_HMAC_SECRET values (several during a rotation)."""
        if self.api_key_hmac_secret is None:
            return ()
        raw = self.api_key_hmac_secret.get_secret_value()
        return tuple(SecretStr(part.strip()) for part in raw.split(",") if part.strip())

    def served_sources(self) -> tuple[str, ...]:
        """ALLOWED_SOURCES plus ``generic`` (the seed's generic endpoint is always served)."""
        return tuple(dict.fromkeys((*self.webhook_allowed_sources, "generic")))
