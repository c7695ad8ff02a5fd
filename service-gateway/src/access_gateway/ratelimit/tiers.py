"""Rate-limit tiers from a YAML file: requests per window, counted per IP or per user."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from access_common.ratelimit import Limit
from access_gateway.config.files import ConfigFileError, load_yaml_model

__all__ = ["BUILTIN_LIMITS", "Tier", "TierTable", "TierTableError"]

BUILTIN_LIMITS = Path(__file__).with_name("rate_limits.yaml")


class TierTableError(ValueError):
    """The rate-limit file is unreadable or invalid; the message says where."""


class Tier(BaseModel):
    """One tier: at most ``requests`` per ``window_seconds`` per IP or per user."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(ge=1, le=10_000_000)
    window_seconds: float = Field(gt=0, le=86_400)
    scope: Literal["ip", "user"] = "user"

    @property
    def limit(self) -> Limit:
        """The shared limiter's form of this tier."""
        return Limit(self.requests, self.window_seconds)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tiers: dict[str, Tier]


class TierTable:
    """The tiers of one version of the limits file."""

    def __init__(self, tiers: dict[str, Tier], *, source: str = "built-in") -> None:
        self.tiers = tiers
        self.source = source
        self.limits = {name: tier.limit for name, tier in tiers.items()}

    def __getitem__(self, name: str) -> Tier:
        return self.tiers[name]

    def __contains__(self, name: object) -> bool:
        return name in self.tiers

    @classmethod
    def load(cls, path: Path | None) -> TierTable:
        """Read and validate a limits file (the built-in one when ``path`` is None)."""
        source = path or BUILTIN_LIMITS
        try:
            parsed = load_yaml_model(source, _File)
        except ConfigFileError as exc:
            raise TierTableError(str(exc)) from None
        return cls(dict(parsed.tiers), source=str(source))
