"""The webhook's two memories in the key-value backend: used nonces and idempotency keys.

With Redis configured every replica shares them, so a nonce or a signal accepted by one
replica is refused by all (per-replica memories let duplicates through as soon as there
are two). Both fail closed: when the store cannot answer, the webhook is refused with
GW-013 and a Retry-After, never accepted unchecked.
"""

from __future__ import annotations

import contextlib
from typing import Literal

from access_common.backends.kv import ClaimEntry, KeyValue, MultiClaim
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

    def entry(self, source: str, nonce: str) -> ClaimEntry:
        """The claim of a nonce, for :meth:`IdempotencyStore.claim` to make with its own."""
        return self._key(source, nonce), b"1", self._ttl

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
        self._multi = kv if isinstance(kv, MultiClaim) else None
        self._prefix = f"{prefix}:idem"
        self._ttl = ttl_seconds
        # A crashed replica's claim must not block the sender's retries for an hour.
        self._pending_ttl = pending_ttl_seconds
        self._retry_after = retry_after

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    async def claim(
        self, key: str, *, nonce: ClaimEntry | None = None
    ) -> tuple[bool, Claim | None]:
        """Claim ``key`` (and the request's ``nonce`` with it): ``(nonce_new, claim)``.

        ``claim`` is ``claimed`` when this request owns the key, else the state someone
        left; None when the nonce was used (then the key is left as it was). Where the
        store can, both are one round trip (one script on Redis).
        """
        name = self._key(key)
        try:
            if nonce is not None and self._multi is not None:
                nonce_new, owned = await self._multi.set_many_if_absent(
                    [nonce, (name, _PENDING, self._pending_ttl)]
                )
                if not nonce_new:
                    if owned:  # the key was free: give it back untouched
                        await self._kv.delete(name)
                    return False, None
            else:
                if nonce is not None and not await self._kv.set_if_absent(
                    nonce[0], nonce[1], ttl=nonce[2]
                ):
                    return False, None
                owned = await self._kv.set_if_absent(name, _PENDING, ttl=self._pending_ttl)
            if owned:
                return True, "claimed"
            state = await self._kv.get(name)
        except BackendError:
            raise StoreUnavailable(retry_after=self._retry_after) from None
        return True, "pending" if state == _PENDING else "done"

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
