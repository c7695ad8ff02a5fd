"""JetStream publishes whose acks arrive as futures on one inbox: a lean ``publish_async``.

nats-py's ``js.publish_async`` costs, per message, a NUID and two random bytes from
the OS for the reply token, a semaphore acquired through ``wait_for``, a done-callback,
and on the way back ``json.loads`` plus a ``PubAck`` dataclass. Here the reply subject
is ``<inbox>.<counter>`` on one wildcard subscription opened once per client, the ack
is read with orjson for its ``seq`` alone, and futures are forgotten by their caller.
The message itself still goes out through the client's public ``publish`` (headers,
``Nats-Msg-Id`` included, as given); the subscription survives reconnects (the client
re-subscribes it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import nats.js.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

__all__ = ["AckInbox"]

_STATUS = "Status"
_NO_RESPONDERS = "503"


class AckInbox:
    """Reply subjects and pending ack futures of one client's JetStream publishes."""

    def __init__(self) -> None:
        self._client: Client | None = None
        self._prefix = ""
        self._counter = 0
        self._waiting: dict[str, asyncio.Future[int]] = {}
        self._lock = asyncio.Lock()

    async def _open(self, nc: Client) -> None:
        async with self._lock:
            if self._client is nc:
                return
            prefix = nc.new_inbox()  # unique per client: nobody else's replies land here
            await nc.subscribe(f"{prefix}.*", cb=self._on_ack)
            self._prefix = f"{prefix}."
            self._client = nc

    async def publish(
        self, nc: Client, subject: str, payload: bytes, headers: dict[str, str] | None
    ) -> tuple[str, asyncio.Future[int]]:
        """Send one message; return its token and the future of its stream sequence."""
        if self._client is not nc:
            await self._open(nc)
        self._counter += 1
        token = str(self._counter)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        try:
            await nc.publish(subject, payload, reply=self._prefix + token, headers=headers)
        except BaseException:
            del self._waiting[token]
            raise
        return token, future

    def forget(self, tokens: Sequence[str]) -> None:
        """Drop the futures of ``tokens`` (answered or given up): a late ack is ignored."""
        for token in tokens:
            future = self._waiting.pop(token, None)
            if future is not None:
                future.cancel()

    async def _on_ack(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject[len(self._prefix) :], None)
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get(_STATUS) == _NO_RESPONDERS:
            future.set_exception(nats.js.errors.NoStreamResponseError())
            return
        try:
            answer = orjson.loads(msg.data)
            problem = answer.get("error")
            if problem is not None:
                nats.js.errors.APIError.from_error(problem)  # raises the precise error
            future.set_result(int(answer["seq"]))
        except nats.js.errors.APIError as exc:
            future.set_exception(exc)
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            future.set_exception(nats.js.errors.APIError(description="malformed ack"))
