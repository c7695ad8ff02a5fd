"""Configuration of the auth service, from ``ACCESS_*`` variables (see docs/auth.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from access_common.settings import ServiceSettings

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "DEFAULT_ALGORITHMS",
    "FALLBACK_SECRET_ALGORITHM",
    "MIN_SECRET_BYTES",
    "AuthSettings",
]

# Every asymmetric JWS algorithm PyJWT implements. HMAC (HS*) is never accepted for a key
# from a JWKS, and "none" never at all: they cannot be put in the allow-list.
ASYMMETRIC_ALGORITHMS = frozenset(
    {
        "RS256", "RS384", "RS512",
        "PS256", "PS384", "PS512",
        "ES256", "ES256K", "ES384", "ES512",
        "EdDSA",
    }
)  # fmt: skip
DEFAULT_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
FALLBACK_SECRET_ALGORITHM = "HS256"  # noqa: S105 - an algorithm name
MIN_SECRET_BYTES = 32
_STRICT_ENVS = frozenset({"dev", "staging", "production"})


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string for list-valued variables."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class AuthSettings(ServiceSettings):
    """What the auth service reads; every field is documented in docs/auth.md."""

    port: int = Field(default=8010, ge=1, le=65535)

    jwks_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Keycloak JWKS: <keycloak>/realms/<realm>/protocol/openid-connect/certs",
    )
    jwt_issuer: str | None = Field(default=None, min_length=1, description="Expected `iss`")
    jwt_audience: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["access-api"],
        description="Accepted `aud` values (comma-separated); empty disables the aud half",
    )
    jwt_client_id: str | None = Field(
        default=None,
        min_length=1,
        description="Client whose `azp` is accepted and whose client roles are read",
    )
    jwt_tenant_claim: str = Field(default="tenant_id", min_length=1, max_length=128)
    jwt_tenant_required: bool = True
    jwt_leeway_seconds: float = Field(default=30, ge=0, le=300)
    jwt_max_token_bytes: int = Field(default=8192, ge=1024, le=65536)
    jwt_recent_tokens: int = Field(
        default=10_000, ge=0, le=1_000_000, description="Recently verified tokens kept; 0: off"
    )
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ALGORITHMS)
    )

    jwks_cache_ttl_seconds: float = Field(default=3600, ge=1, le=86400)
    jwks_min_refresh_interval_seconds: float = Field(default=10, ge=0, le=3600)
    jwks_max_bytes: int = Field(default=1_048_576, ge=1024)

    jwks_fallback_enabled: bool = False
    jwt_secret_key: SecretStr | None = None
    jwks_fallback_file: Path | None = None

    dev_issuer_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Issuer of the dev issuer (local only); default http://<host>:<port>/auth/dev",
    )

    @field_validator("jwt_audience", "jwt_algorithms", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("jwt_algorithms")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one algorithm is required")
        refused = [a for a in value if a not in ASYMMETRIC_ALGORITHMS]
        if refused:
            raise ValueError(
                f"not allowed: {', '.join(refused)} (only asymmetric algorithms; "
                "never none, HMAC only through ACCESS_JWT_SECRET_KEY)"
            )
        return list(dict.fromkeys(value))

    @field_validator("jwt_secret_key")
    @classmethod
    def _secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
            # The message never contains the value.
            raise ValueError(f"must be at least {MIN_SECRET_BYTES} bytes")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.env in _STRICT_ENVS and self.jwks_url is None:
            raise ValueError(f"ACCESS_JWKS_URL is required in env {self.env!r}")
        if self.jwks_url is not None and self.env != "local":
            if self.jwt_issuer is None:
                raise ValueError("ACCESS_JWT_ISSUER is required when ACCESS_JWKS_URL is set")
            if not self.jwt_audience and self.jwt_client_id is None:
                raise ValueError("set ACCESS_JWT_AUDIENCE or ACCESS_JWT_CLIENT_ID")
        if self.jwks_fallback_enabled and (
            self.jwt_secret_key is None and self.jwks_fallback_file is None
        ):
            raise ValueError(
                "ACCESS_JWKS_FALLBACK_ENABLED needs ACCESS_JWT_SECRET_KEY "
                "or ACCESS_JWKS_FALLBACK_FILE"
            )
        return self

    @property
    def dev_issuer_enabled(self) -> bool:
        """The dev issuer (routes, key, CLI) exists only in the local environment."""
        return self.env == "local"

    @property
    def dev_issuer(self) -> str:
        """The `iss` of tokens minted by the dev issuer."""
        if self.dev_issuer_url:
            return self.dev_issuer_url.rstrip("/")
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/auth/dev"

    @property
    def trusts_dev_issuer(self) -> bool:
        """In local without a JWKS URL the verifier trusts the dev issuer's key in-process."""
        return self.dev_issuer_enabled and self.jwks_url is None

    @property
    def expected_issuer(self) -> str | None:
        """The `iss` every accepted token must carry (None: not checked, local only)."""
        if self.jwt_issuer is not None:
            return self.jwt_issuer
        if self.trusts_dev_issuer:
            return self.dev_issuer
        return None

    @property
    def dev_key_path(self) -> Path:
        """Where the dev issuer keeps its signing key (0600)."""
        return self.state_dir / "auth" / "dev-signing-key.pem"
