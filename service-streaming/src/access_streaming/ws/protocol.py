"""Client messages on a connection: parse, rate-limit, act, answer; count the abuse.

Seed 003's client actions are ``subscribe`` (``data.topics``, ``data.filters``; issue 19
adds ``data.since`` and ``data.max_rate``), ``unsubscribe`` (``data.topics``), ``ping``,
and ``refresh`` (``data.token``: a new token for the same user keeps the subscriptions).
Everything a client can get wrong — not text, not JSON, not an object, an unknown
action, too large, too frequent, a bad topic or filter — is answered with an ``error``
message and the connection stays open. Each such error is a strike; past
``ACCESS_MAX_CLIENT_ERRORS`` strikes (halved after each quiet minute) the connection is
closed with 1008 and the reason.
"""

from __future__ import annotations

import logging
import time

import orjson

from access_common.errors import AccessError
from access_streaming.connections import CloseCode, Connection
from access_streaming.errors import (
    ActionUnknown,
    MessageMalformed,
    MessageRateLimited,
    MessageTooLarge,
    error_message,
)
from access_streaming.fanout import control
from access_streaming.resume import parse_since
from access_streaming.runtime import StreamingRuntime

__all__ = ["ClientProtocol"]

logger = logging.getLogger("access_streaming.ws")

_ACTIONS = ("subscribe", "unsubscribe", "ping", "refresh")
_QUIET_SECONDS = 60.0


class ClientProtocol:
    """Handle the messages one WebSocket client sends."""

    def __init__(self, runtime: StreamingRuntime, connection: Connection) -> None:
        self._runtime = runtime
        self._connection = connection
        self._max_bytes = runtime.settings.max_client_message_bytes
        self._max_strikes = runtime.settings.max_client_errors
        self.strikes = 0
        self._last_strike = 0.0

    async def handle(self, text: str | None, data: bytes | None) -> None:
        """Act on one received frame; every outcome is queued to the client in order."""
        try:
            await self._handle(text, data)
        except AccessError as exc:
            self._error(exc, strike=exc.status < 500)

    async def _handle(self, text: str | None, data: bytes | None) -> None:
        runtime = self._runtime
        connection = self._connection
        size = len(text.encode()) if text is not None else len(data or b"")
        if size > self._max_bytes:
            runtime.metrics.messages_received.labels("websocket", "too_large").inc()
            raise MessageTooLarge(
                f"Messages are at most {self._max_bytes} bytes",
                details={"max_bytes": self._max_bytes},
            )
        rate = await runtime.message_limiter.hit(connection.id, runtime.message_limit)
        if not rate.allowed:
            runtime.metrics.messages_received.labels("websocket", "rate_limited").inc()
            raise MessageRateLimited(
                details={"limit_per_second": rate.limit, "retry_after": rate.retry_after}
            )
        if text is None:
            runtime.metrics.messages_received.labels("websocket", "malformed").inc()
            raise MessageMalformed("Messages are JSON text frames, not binary")
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            runtime.metrics.messages_received.labels("websocket", "malformed").inc()
            raise MessageMalformed("The message is not valid JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("action"), str):
            runtime.metrics.messages_received.labels("websocket", "malformed").inc()
            raise MessageMalformed('Messages are objects {"action": ..., "data": {...}}')
        action = message["action"]
        body = message.get("data", {})
        if body is None:
            body = {}
        if action not in _ACTIONS:
            runtime.metrics.messages_received.labels("websocket", "unknown").inc()
            raise ActionUnknown(
                "Unknown action", details={"action": action[:64], "actions": list(_ACTIONS)}
            )
        runtime.metrics.messages_received.labels("websocket", action).inc()
        if not isinstance(body, dict):
            raise MessageMalformed("data must be an object")
        if action == "ping":
            connection.push(control("pong", timestamp=time.time_ns() // 1_000_000))
        elif action == "subscribe":
            await self._subscribe(body)
        elif action == "refresh":
            await runtime.refresh(connection, body.get("token"))
        else:
            left = runtime.subscriptions.unsubscribe(connection, body.get("topics"))
            connection.push(control("unsubscribed", topics=left))

    async def _subscribe(self, body: dict[str, object]) -> None:
        connection = self._connection
        subscriptions = self._runtime.subscriptions
        outcome = await subscriptions.subscribe(
            connection,
            body.get("topics"),
            body.get("filters"),
            since=parse_since(body.get("since")),
            max_rate=body.get("max_rate"),
        )
        if outcome.subscribed:
            filters = outcome.filter.as_dict() if outcome.filter is not None else {}
            extra = {"max_rate": outcome.max_rate} if outcome.max_rate is not None else {}
            connection.push(
                control("subscribed", topics=outcome.subscribed, filters=filters, **extra)
            )
            subscriptions.start_delivery(connection, outcome)
        for error in outcome.errors:
            # A denied topic is the client asking for what it may not have, not abuse.
            self._error(error, strike=error.code != "SUBSCRIPTION_DENIED")

    def _error(self, exc: AccessError, *, strike: bool) -> None:
        connection = self._connection
        connection.push(control("error", **error_message(exc)))
        if not strike:
            return
        now = time.monotonic()
        if self._last_strike and now - self._last_strike > _QUIET_SECONDS:
            self.strikes //= 2
        self._last_strike = now
        self.strikes += 1
        if self.strikes > self._max_strikes:
            self._runtime.metrics.refusals.labels("CLIENT_ABUSE").inc()
            logger.info(
                "closing an abusive connection",
                extra={"connection_id": connection.id, "last_code": exc.code},
            )
            connection.close(CloseCode.POLICY_VIOLATION, f"too many invalid messages ({exc.code})")
