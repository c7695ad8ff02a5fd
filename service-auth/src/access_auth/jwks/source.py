"""Where the verifier gets keys: the remote JWKS cache or a static in-process key set."""

from __future__ import annotations

from typing import Literal, Protocol

from access_auth.jwks.keys import KeySet, VerificationKey

__all__ = ["KeySource", "SourceStatus", "StaticKeySource"]

SourceStatus = Literal["ok", "degraded", "down"]


class KeySource(Protocol):
    """A provider of trusted signing keys for the verifier."""

    @property
    def loaded(self) -> bool:
        """A key set has been loaded at least once."""
        ...

    @property
    def available(self) -> bool:
        """Keys are loaded and the last refresh succeeded (fallback keys stay off)."""
        ...

    def lookup(self, kid: str | None, alg: str) -> VerificationKey | None:
        """The key for this kid in the current set, without any I/O."""
        ...

    async def refresh_for_unknown_kid(self) -> None:
        """Refresh early because a token named an unknown kid (rate-limited, single-flight)."""
        ...

    def ensure_fresh(self) -> None:
        """Start a background refresh when the set has expired; never blocks."""
        ...

    def status(self) -> SourceStatus:
        """ok, degraded (stale or last refresh failed) or down (never loaded)."""
        ...

    def age(self) -> float:
        """Seconds since the last successful load (+Inf when never loaded)."""
        ...


class StaticKeySource:
    """A fixed key set held in process (the dev issuer's own key): always available."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys

    @property
    def loaded(self) -> bool:
        """Always loaded."""
        return True

    @property
    def available(self) -> bool:
        """Always available."""
        return True

    def lookup(self, kid: str | None, alg: str) -> VerificationKey | None:
        """The key for kid, if any."""
        return self.keys.lookup(kid, alg)

    async def refresh_for_unknown_kid(self) -> None:
        """Nothing to refresh."""

    def ensure_fresh(self) -> None:
        """Nothing to refresh."""

    def status(self) -> SourceStatus:
        """Always ok."""
        return "ok"

    def age(self) -> float:
        """A static set never ages."""
        return 0.0
