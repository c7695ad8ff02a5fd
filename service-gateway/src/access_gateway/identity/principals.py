"""Who is calling: bearer tokens verified by the auth service, remembered until near ``exp``.

A verified principal is kept per token until ``exp`` minus a margin, so a client's
repeated calls cost no round trip to auth; concurrent first calls with one token make one
verification. Refusals are not remembered (auth answers them cheaply and they must keep
their precise code). Auth unreachable fails closed with AUTH_UNAVAILABLE, except for
tokens already remembered.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable

from access_common.clients import AuthClient, VerifiedPrincipal
from access_common.errors import DependencyUnavailable
from access_gateway.errors import AuthUnavailable, TokenMissing
from access_gateway.metrics import GatewayMetrics

__all__ = ["Principals", "bearer_token"]


def bearer_token(authorization: str | None) -> str:
    """The token of ``Authorization: Bearer <token>``; TOKEN_MISSING otherwise."""
    if not authorization:
        raise TokenMissing
    scheme, _, value = authorization.strip().partition(" ")
    token = value.strip()
    if scheme.lower() != "bearer" or not token:
        raise TokenMissing
    return token


class Principals:
    """A bounded in-process map token → principal in front of :class:`AuthClient`."""

    def __init__(
        self,
        client: AuthClient,
        metrics: GatewayMetrics,
        *,
        max_entries: int = 100_000,
        margin_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._hits = metrics.principals.labels("hit")  # labels() per request costs a lock
        self._max_entries = max_entries
        self._margin = margin_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, VerifiedPrincipal]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[VerifiedPrincipal]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, token: str) -> VerifiedPrincipal | None:
        """The remembered principal of a token, if still well before its expiry."""
        principal = self._get(token)
        if principal is not None:
            self._hits.inc()
        return principal

    def _get(self, token: str) -> VerifiedPrincipal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[token]
            return None
        return entry[1]

    async def verify(self, token: str) -> VerifiedPrincipal:
        """The token's principal: remembered, or verified by auth now (one call per token)."""
        hit = self.cached(token)
        if hit is not None:
            return hit
        self._metrics.principals.labels("miss").inc()
        pending = self._pending.get(token)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[VerifiedPrincipal] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        try:
            principal = await self._client.verify(token)
        except DependencyUnavailable as exc:
            error = AuthUnavailable(details={"peer": "auth", **exc.details})
            future.set_exception(error)
            raise error from None
        except Exception as exc:
            future.set_exception(exc)
            raise
        except BaseException:
            future.cancel()
            raise
        else:
            future.set_result(principal)
            self._remember(token, principal)
            return principal
        finally:
            del self._pending[token]
            if not future.cancelled() and future.done() and future.exception() is not None:
                # Mark retrieved so a lone waiter-less failure is not logged by asyncio.
                future.exception()

    def _remember(self, token: str, principal: VerifiedPrincipal) -> None:
        if self._max_entries <= 0:
            return
        until = principal.exp - self._margin
        if until <= self._clock():
            return
        self._entries[token] = (until, principal)
        self._entries.move_to_end(token)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget(self) -> None:
        """Drop every remembered principal."""
        self._entries.clear()
