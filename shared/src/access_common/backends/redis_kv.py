"""The Redis key-value store (``redis.asyncio``), shared by every instance of a service.

One bounded connection pool per instance, created in ``__init__`` without connecting.
Short socket timeouts make a dead Redis fail in about a second instead of hanging a
request, and the pool replaces broken connections when it hands them out, so the same
instance works again as soon as Redis is back.

Commands are never retried: a retried ``SET NX`` whose first reply was lost would
answer False for a nonce this very call stored, and a retried ``INCRBY`` would count
twice. Failing fast with :class:`~access_common.errors.BackendError` is safer.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Sequence
from typing import TypeVar, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.maint_notifications import MaintNotificationsConfig

from access_common.backends.kv import ClaimEntry
from access_common.errors import BackendError

__all__ = ["RedisKeyValue"]

_T = TypeVar("_T")

_CONNECT_TIMEOUT = 1.0
_SOCKET_TIMEOUT = 1.0
_POOL_TIMEOUT = 2.0
_HEALTH_CHECK_INTERVAL = 30

# INCRBY that gives a key its expiry when (and only when) this call creates it.
_INCR_WITH_TTL = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], 0, 'PX', ARGV[2])
end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""

# SET NX (with PX when ARGV gives one above 0) for every key; 1 where stored. One script:
# one round trip and one reply for a webhook's nonce and idempotency claims.
_SET_MANY_NX = """
local stored = {}
for i = 1, #KEYS do
  local px = tonumber(ARGV[2 * i])
  local ok
  if px > 0 then
    ok = redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'NX', 'PX', px)
  else
    ok = redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'NX')
  end
  stored[i] = ok and 1 or 0
end
return stored
"""

# The password in ``scheme://user:password@host`` or in a ``password=`` query parameter.
_PASSWORD = re.compile(r"(://[^:/@]*:)[^/?#]*@|(password=)[^&\s]*", re.IGNORECASE)


class RedisKeyValue:
    """A Redis implementation of :class:`~access_common.backends.kv.KeyValue`."""

    name = "redis"

    def __init__(self, url: str, *, ssl: bool = False, max_connections: int = 50) -> None:
        if ssl and url.startswith("redis://"):
            url = "rediss://" + url.removeprefix("redis://")
        self._display_url = _redact(url)
        try:
            pool = BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=_POOL_TIMEOUT,
                socket_connect_timeout=_CONNECT_TIMEOUT,
                socket_timeout=_SOCKET_TIMEOUT,
                health_check_interval=_HEALTH_CHECK_INTERVAL,
                retry=Retry(NoBackoff(), 0),
                # With maintenance notifications on (redis-py's "auto" under RESP3) the
                # pool skips its check for connections the server closed, and the first
                # command after a Redis restart fails on a dead socket. They are for
                # managed clusters moving shards; a plain Redis never sends them.
                maint_notifications_config=MaintNotificationsConfig(enabled=False),
            )
        except ValueError:
            # The parser's message may quote parts of the URL, password included.
            raise ValueError(f"Invalid Redis URL: {self._display_url}") from None
        self._client: Redis = Redis.from_pool(pool)
        self._incr_with_ttl = self._client.register_script(_INCR_WITH_TTL)
        self._set_many_nx = self._client.register_script(_SET_MANY_NX)
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisKeyValue({self._display_url!r})"

    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        value = await self._call(self._redis().get(key))
        # decode_responses is off, so a reply is bytes, never str.
        return cast("bytes | None", value)

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store a value, replacing any; expire after ``ttl`` seconds when given."""
        px = _milliseconds(ttl)
        await self._call(self._redis().set(key, value, px=px))

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        """Store only when the key is absent (``SET NX``); True when stored."""
        px = _milliseconds(ttl)
        stored = await self._call(self._redis().set(key, value, nx=True, px=px))
        return bool(stored)

    async def set_many_if_absent(self, entries: Sequence[ClaimEntry]) -> list[bool]:
        """``SET NX`` for each ``(key, value, ttl)`` in one script (one round trip)."""
        args: list[bytes | int] = []
        for _, value, ttl in entries:
            args += [value, _milliseconds(ttl) or 0]
        self._redis()
        keys = [key for key, _, _ in entries]
        stored = await self._call(self._set_many_nx(keys=keys, args=args))
        return [bool(flag) for flag in cast("list[int]", stored)]

    async def delete(self, key: str) -> bool:
        """Remove a key; True when it existed."""
        return bool(await self._call(self._redis().delete(key)))

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add to an integer counter and return the new value; ``ttl`` only on creation."""
        px = _milliseconds(ttl)
        if px is None:
            return int(await self._call(self._redis().incrby(key, amount)))
        self._redis()
        # One script is atomic and one round trip with one reply: the expiry is set only
        # when this call creates the key, and INCRBY never touches an existing expiry.
        # (A MULTI/EXEC pipeline did the same at almost twice the client CPU per call,
        # and this runs on every rate-limited request.)
        value = await self._call(self._incr_with_ttl(keys=[key], args=[amount, px]))
        return int(cast("int", value))

    async def ttl(self, key: str) -> float | None:
        """Seconds left before the key expires; None when absent or without expiry."""
        left = await self._call(self._redis().pttl(key))
        # PTTL answers -2 for a missing key and -1 for a key without expiry.
        return None if left < 0 else left / 1000

    async def ping(self) -> None:
        """Return when Redis answers PING; raise BackendError otherwise."""
        await self._call(self._redis().ping())

    async def close(self) -> None:
        """Disconnect the pool; idempotent. Later calls raise BackendError."""
        if self._closed:
            return
        self._closed = True
        # Closing sockets to a dead server can fail; there is nothing left to release.
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await self._client.aclose()

    def _redis(self) -> Redis:
        """The client, unless closed: a closed pool would silently reconnect."""
        if self._closed:
            raise BackendError("Key-value store is closed", details={"backend": self.name})
        return self._client

    @staticmethod
    async def _call(command: Awaitable[_T]) -> _T:
        """Await a client command, translating every driver failure to BackendError."""
        try:
            return await command
        except (RedisError, OSError, TimeoutError) as exc:
            raise _unavailable() from exc


def _unavailable() -> BackendError:
    """The error callers see; the driver's message stays in ``__cause__`` for logs."""
    return BackendError(
        "Redis is unavailable or rejected the command", details={"backend": "redis"}
    )


def _milliseconds(ttl: float | None) -> int | None:
    """A TTL in seconds as Redis's positive integer milliseconds; None for no expiry."""
    if ttl is None:
        return None
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    return max(1, round(ttl * 1000))


def _redact(url: str) -> str:
    """The URL with any password replaced, for reprs and messages."""
    return _PASSWORD.sub(lambda m: f"{m[1]}***@" if m[1] else f"{m[2]}***", url)
