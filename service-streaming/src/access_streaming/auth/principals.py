"""Verify connection tokens through the auth service, once per token while it is valid.

A trading screen reconnects with the same token many times; each token is verified by
``/auth/verify-ws`` once and its principal kept until the token's ``exp`` (bounded, oldest
out first). Concurrent connects with one token share one call. Tokens are kept only as
a digest. Refusals are never cached, and an auth service that cannot answer refuses the
connection (fail closed).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from access_common.clients import AuthClient, VerifiedPrincipal
from access_streaming.errors import TokenMissing

__all__ = ["PrincipalCache"]


class PrincipalCache:
    """``verify(token)`` through the auth client, remembered until the token expires."""

    def __init__(
        self,
        client: AuthClient,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[bytes, VerifiedPrincipal] = OrderedDict()
        self._inflight: dict[bytes, asyncio.Future[VerifiedPrincipal]] = {}

    async def verify(self, token: str | None) -> VerifiedPrincipal:
        """The token's principal; TokenMissing, or the auth client's refusal, otherwise."""
        if not token:
            raise TokenMissing
        key = hashlib.blake2b(token.encode(), digest_size=20).digest()
        principal = self._cache.get(key)
        if principal is not None:
            if principal.exp > self._clock():
                return principal
            del self._cache[key]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[VerifiedPrincipal] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            principal = await self._client.verify_ws(token)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            # Mark retrieved so an unshared failure does not log "never retrieved".
            future.exception()
            raise
        else:
            future.set_result(principal)
        finally:
            self._inflight.pop(key, None)
        self._cache[key] = principal
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return principal
