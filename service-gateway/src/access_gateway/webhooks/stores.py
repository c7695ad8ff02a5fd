"""The webhook's two memories in the key-value backend: used nonces and idempotency keys.

With Redis configured every replica shares them, so a nonce or a signal accepted by one
replica is refused by all (per-replica memories let duplicates through as soon as there
are two). Both fail closed: when the store cannot answer, the webhook is refused with
GW-013 and a Retry-After, never accepted unchecked.
"""

from __future__ import annotations

import contextlib
from typing import Literal

from access_common.backends.kv import KeyValue
from access_common.errors import BackendError
from access_gateway.webhooks.errors import StoreUnavailable

__all__ = ["Claim", "IdempotencyStore", "NonceStore"]

Claim = Literal["claimed", "pending", "done"]

_PENDING = b"pending"
_DONE = b"done"


class NonceStore:
    """Nonces seen within the replay window, per source."""

    def __init__(self, kv: KeyValue, *, prefix: str, ttl_seconds: float, retry_after: int):
        self._kv = kv
        self._prefix = f"{prefix}:nonce"
        # A timestamp may be `window` early or late, so a nonce must outlive 2 windows.
        self._ttl = ttl_seconds
        self._retry_after = retry_after

    def _key(self, source: str, nonce: str) -> str:
        return f"{self._prefix}:{source}:{nonce}"

    async def claim(self, source: str, nonce: str) -> bool:
        """True when the nonce is new (and is now remembered)."""
        try:
            return await self._kv.set_if_absent(self._key(source, nonce), b"1", ttl=self._ttl)
        except BackendError:
            raise StoreUnavailable(retry_after=self._retry_after) from None

    async def release(self, source: str, nonce: str) -> None:
        """Forget a nonce whose request was refused for a reason a retry can fix."""
        # On failure it expires with the window; the sender then needs a new nonce.
        with contextlib.suppress(BackendError):
            await self._kv.delete(self._key(source, nonce))


class IdempotencyStore:
    """Idempotency keys: ``pending`` while a publish is in flight, ``done`` once acked."""

    def __init__(
        self,
        kv: KeyValue,
        *,
        prefix: str,
        ttl_seconds: float,
        pending_ttl_seconds: float,
        retry_after: int,
    ) -> None:
        self._kv = kv
        self._prefix = f"{prefix}:idem"
        self._ttl = ttl_seconds
        # A crashed replica's claim must not block the sender's retries for an hour.
        self._pending_ttl = pending_ttl_seconds
        self._retry_after = retry_after

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    async def claim(self, key: str) -> Claim:
        """``claimed`` when this request owns the key; else the state someone left."""
        try:
            if await self._kv.set_if_absent(self._key(key), _PENDING, ttl=self._pending_ttl):
                return "claimed"
            state = await self._kv.get(self._key(key))
        except BackendError:
            raise StoreUnavailable(retry_after=self._retry_after) from None
        return "pending" if state == _PENDING else "done"

    async def complete(self, key: str) -> None:
        """Remember the key for IDEMPOTENCY_TTL_SEC: the signal is in the stream.

        Failing here is harmless for the stream (the publish was acked and a retry is
        caught by JetStream's Nats-Msg-Id window), so it is not the sender's error.
        """
        with contextlib.suppress(BackendError):
            await self._kv.set(self._key(key), _DONE, ttl=self._ttl)

    async def release(self, key: str) -> None:
        """Give the key back after a failed publish, so the sender's retry is accepted."""
        # On failure the pending claim expires after pending_ttl_seconds.
        with contextlib.suppress(BackendError):
            await self._kv.delete(self._key(key))
