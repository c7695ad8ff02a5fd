"""Policy-version changes between replicas over Redis pub/sub (``entitlement:policy-versions``).

A replica that changes a rule publishes ``{"tenant_id", "version"}`` after the commit;
every replica subscribes. The publisher then waits (up to ``echo_timeout``) for its own
subscription to deliver the message back: Redis writes one published message to all
subscribers in the same pass of its event loop, so once the echo is here every other
replica's socket holds the message too, before the admin caller gets an answer. A check
that reaches another replica after that finds the news already there. Pub/sub keeps
nothing for a subscriber that was away: after each
(re)subscription the replica resyncs every version from the store before it trusts its
map again, and it resyncs every ``reconcile_seconds`` as a bound on a lost message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from access_common.errors import AccessError

__all__ = ["CHANNEL", "RedisVersionFeed"]

CHANNEL = "entitlement:policy-versions"

logger = logging.getLogger("access_entitlements.feed")

_RETRY_MIN = 0.2
_RETRY_MAX = 5.0


class RedisVersionFeed:
    """Publish this replica's version changes and follow everyone else's."""

    name = "policy_feed"

    def __init__(
        self,
        url: str,
        *,
        on_version: Callable[[str, int], object],
        on_subscribed: Callable[[], Awaitable[None]],
        on_lost: Callable[[], None],
        reconcile_seconds: float = 5.0,
        echo_timeout: float = 0.25,
    ) -> None:
        self._client: Redis = Redis.from_url(
            url, socket_connect_timeout=1.0, socket_timeout=None, health_check_interval=5
        )
        self._publisher: Redis = Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        self._on_version = on_version
        self._on_subscribed = on_subscribed
        self._on_lost = on_lost
        self._reconcile = reconcile_seconds
        self._echo_timeout = echo_timeout
        self._echoes: dict[tuple[str, int], asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    def start(self) -> None:
        """Start following in the background; idempotent."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="entitlements-policy-feed")

    async def publish(self, tenant_id: str, version: int) -> bool:
        """Tell the other replicas; False (logged) when Redis did not take it."""
        payload = orjson.dumps({"tenant_id": tenant_id, "version": version})
        echo: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._echoes[(tenant_id, version)] = echo
        try:
            await self._publisher.publish(CHANNEL, payload)
            if self.connected:
                await asyncio.wait_for(asyncio.shield(echo), self._echo_timeout)
        except (RedisError, OSError):
            logger.warning("policy version not published", extra={"tenant_id": tenant_id})
            return False
        except TimeoutError:
            logger.warning("policy version published, echo late", extra={"tenant_id": tenant_id})
        finally:
            self._echoes.pop((tenant_id, version), None)
        return True

    async def health(self) -> str | None:
        """Degraded while unsubscribed: checks then read versions from the store."""
        return None if self.connected else "degraded"

    async def close(self) -> None:
        """Stop following and close both connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for client in (self._client, self._publisher):
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await client.aclose()

    async def _run(self) -> None:
        delay = _RETRY_MIN
        while True:
            try:
                await self._follow()
            except (RedisError, OSError, TimeoutError) as exc:
                if self.connected:
                    logger.warning("policy feed lost: %s", type(exc).__name__)
            self._lose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX)

    def _lose(self) -> None:
        if self.connected:
            self.connected = False
            self._on_lost()

    async def _follow(self) -> None:
        async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(CHANNEL)
            synced_at = 0.0
            while True:
                due = not self.connected or time.monotonic() - synced_at >= self._reconcile
                if due and await self._resync():
                    synced_at = time.monotonic()
                    if not self.connected:
                        self.connected = True
                        logger.info("policy feed subscribed")
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and message.get("type") == "message":
                    self._handle(message.get("data"))

    async def _resync(self) -> bool:
        try:
            await self._on_subscribed()
        except AccessError as exc:
            logger.warning("policy versions not resynced: %s", exc.code)
            return False
        return True

    def _handle(self, data: object) -> None:
        try:
            body: Any = orjson.loads(data) if isinstance(data, bytes | str) else {}
            tenant_id, version = str(body["tenant_id"]), int(body["version"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            logger.warning("ignored a malformed policy version message")
            return
        self._on_version(tenant_id, version)
        echo = self._echoes.get((tenant_id, version))
        if echo is not None and not echo.done():
            echo.set_result(None)
