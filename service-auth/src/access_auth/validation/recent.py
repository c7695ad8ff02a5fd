"""Recently verified tokens: the same token again skips the signature check, safely.

A gateway presents the same bearer token on every request of a session; checking its
signature each time is the largest fixed cost of a verification. An entry is used only
while all of these still hold, else the token is verified from scratch:

- the token is byte-for-byte the one verified (the dict key is the whole token);
- the primary key source still returns the *same key object* for its kid and alg, so
  any JWKS refresh, rotation or removal drops every entry made with the old set;
- it has not expired (``exp`` with the same leeway as a full verification).

Tokens verified with fallback keys or the fallback secret are never remembered: they
are valid only while the primary is out, which can end at any moment.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from access_auth.jwks.keys import VerificationKey
from access_auth.jwks.source import KeySource
from access_auth.validation.claims import Principal
from access_auth.validation.token import TokenHeader

__all__ = ["RecentTokens"]


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    key: VerificationKey
    header: TokenHeader


class RecentTokens:
    """A bounded map of token → principal, oldest evicted first; size 0 disables it."""

    def __init__(self, size: int, leeway: float, clock: Callable[[], float] = time.time) -> None:
        self._size = size
        self._leeway = leeway
        self._clock = clock
        # OrderedDict: evicting the oldest is O(1); a dict's first key after many
        # deletions from the front is found by skipping every deleted slot.
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, primary: KeySource | None) -> Principal | None:
        """The principal of a token verified recently, if every condition still holds."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        header = entry.header
        if (
            primary is None
            or primary.lookup(header.kid, header.alg) is not entry.key
            or self._clock() >= entry.principal.exp + self._leeway
        ):
            del self._entries[token]
            return None
        return entry.principal

    def put(
        self,
        token: str,
        header: TokenHeader,
        key: VerificationKey,
        principal: Principal,
        primary: KeySource | None,
    ) -> None:
        """Remember a token verified with the primary source's key (never a fallback key)."""
        if self._size == 0 or primary is None:
            return
        if primary.lookup(header.kid, header.alg) is not key:
            return
        if len(self._entries) >= self._size:
            self._entries.popitem(last=False)
        self._entries[token] = _Entry(principal, key, header)
