"""The key-value interface: cache entries, counters, nonces, sessions.

Implementations: :class:`~access_common.backends.memory_kv.MemoryKeyValue` (in-process,
the embedded default) and :class:`~access_common.backends.redis_kv.RedisKeyValue`.
Both pass ``shared/tests/backends/test_kv_contract.py``. Keys are plain strings; callers
namespace them (``tenant:<id>:...``) so tenants never share a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["ClaimEntry", "KeyValue", "MultiClaim"]

ClaimEntry = tuple[str, bytes, float | None]
"""``(key, value, ttl)`` for :meth:`MultiClaim.set_many_if_absent`."""


@runtime_checkable
class KeyValue(Protocol):
    """An async key-value store with TTLs and atomic counters.

    Every method raises :class:`access_common.errors.BackendError` when the backend
    cannot be reached, never a driver exception.
    """

    name: str

    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        ...

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store a value, replacing any; expire after ``ttl`` seconds when given."""
        ...

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        """Store only when the key is absent; True when stored (atomic: nonces, locks)."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove a key; True when it existed."""
        ...

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add to an integer counter atomically and return the new value.

        ``ttl`` applies only when this call creates the key (fixed windows).
        """
        ...

    async def ttl(self, key: str) -> float | None:
        """Seconds left before the key expires; None when absent or without expiry."""
        ...

    async def ping(self) -> None:
        """Return when the backend answers; raise BackendError otherwise."""
        ...

    async def close(self) -> None:
        """Release connections; idempotent."""
        ...


@runtime_checkable
class MultiClaim(Protocol):
    """Optional: several ``set_if_absent`` in one round trip (both implementations have it).

    Not part of :class:`KeyValue`, so stand-ins that implement only the protocol stay
    valid; callers check ``isinstance(kv, MultiClaim)`` once and fall back to one
    ``set_if_absent`` per key.
    """

    async def set_many_if_absent(self, entries: Sequence[ClaimEntry]) -> list[bool]:
        """``set_if_absent`` for each entry, in order; each key on its own (not all or none)."""
        ...
