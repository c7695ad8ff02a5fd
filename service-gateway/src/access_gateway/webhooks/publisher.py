"""Publish an accepted signal to JetStream: raw and normalized, both acked, or neither told.

Both messages are published at once and awaited together; the sender hears 202 only
after JetStream acknowledged both. Each carries ``Nats-Msg-Id: <key>:raw`` /
``<key>:normalized``, so a retry that races the idempotency store (or follows an ack
lost on the way back) is dropped by the stream's duplicate window instead of stored
twice.

Publishes are pipelined: every request's publishes go out on the bus's one connection
without waiting for earlier acks, and each ack wakes its own request; nothing is
serialized behind a lock. The in-flight count is bounded (seed 004's buffer of 1000):
past it a webhook is refused at once with GW-005 (backpressure) instead of queueing
without limit. While NATS is away a request waits up to the buffer window for it to
return, then gets GW-005; it is never acknowledged first and published later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Literal

from access_common.backends.bus import Bus
from access_common.backends.nats_bus import NatsBus, Outgoing
from access_common.errors import BackendError
from access_gateway.webhooks.errors import NatsUnavailable
from access_gateway.webhooks.metrics import WebhookMetrics

__all__ = ["NatsState", "SignalPublisher"]

logger = logging.getLogger("access_gateway.webhooks.publisher")

NatsState = Literal["connected", "degraded", "disconnected"]

# A publish failure, or acks slower than seed 004's p99 SLO (500 ms), within this many
# seconds makes a connected bus "degraded".
_DEGRADED_FOR_S = 30.0
_SLOW_ACK_S = 0.5


class SignalPublisher:
    """The raw and normalized subjects of one stream, published with bounded in-flight."""

    def __init__(
        self,
        bus: Bus,
        metrics: WebhookMetrics,
        *,
        stream: str,
        raw_subject: str,
        normalized_subject: str,
        buffer_max: int,
        retry_after: int,
        max_age: float,
        max_bytes: int,
        duplicate_window: float,
    ) -> None:
        self._bus = bus
        self._metrics = metrics
        self._stream = stream
        self.raw_subject = raw_subject
        self.normalized_subject = normalized_subject
        self._buffer_max = buffer_max
        self._retry_after = retry_after
        self._max_age = max_age
        self._max_bytes = max_bytes
        self._duplicate_window = duplicate_window
        self._in_flight = 0
        self._stream_ready = not isinstance(bus, NatsBus)
        self._stream_lock = asyncio.Lock()
        self._last_trouble = float("-inf")
        self.last_success: float | None = None

    @property
    def in_flight(self) -> int:
        """Webhooks whose publishes are awaiting their acks."""
        return self._in_flight

    def state(self) -> NatsState:
        """connected, degraded (a recent failure) or disconnected; no I/O."""
        if isinstance(self._bus, NatsBus) and not self._bus.connected:
            return "disconnected"
        if time.monotonic() - self._last_trouble < _DEGRADED_FOR_S:
            return "degraded"
        return "connected"

    async def _ensure_stream(self) -> None:
        async with self._stream_lock:
            if self._stream_ready or not isinstance(self._bus, NatsBus):
                return
            streams = await self._bus.ensure_stream(
                self._stream,
                (self.raw_subject, self.normalized_subject),
                max_age=self._max_age,
                max_bytes=self._max_bytes,
                duplicate_window=self._duplicate_window,
            )
            if set(streams.values()) != {self._stream}:
                logger.warning(
                    "signal subjects are stored by existing streams, not %s",
                    self._stream,
                    extra={"streams": streams},
                )
            self._stream_ready = True

    async def publish(
        self, key: str, raw: bytes, normalized: bytes, headers: Mapping[str, str]
    ) -> tuple[int, int]:
        """Publish both messages; return their stream sequences once both are acked."""
        if self._in_flight >= self._buffer_max:
            self._metrics.backpressure.inc()
            raise NatsUnavailable(
                "Too many signals awaiting JetStream; retry later",
                details={"reason": "backpressure", "in_flight": self._in_flight},
                retry_after=self._retry_after,
            )
        self._in_flight += 1
        started = time.monotonic()
        try:
            if not self._stream_ready:
                await self._ensure_stream()
            results = await self._send(key, raw, normalized, headers)
        except BackendError as exc:
            # Only the stream setup raises here; publishes come back in ``results``.
            self._failed("stream", 0)
            raise self._unavailable() from exc
        finally:
            self._in_flight -= 1
        failures = [r for r in results if isinstance(r, BaseException)]
        successes = len(results) - len(failures)
        if successes:
            self._metrics.published_ok.inc(successes)
        if failures:
            for failure in failures:
                if not isinstance(failure, BackendError):
                    raise failure
            self._failed("publish", len(failures))
            raise self._unavailable()
        self.last_success = time.time()
        if time.monotonic() - started > _SLOW_ACK_S:
            self._last_trouble = time.monotonic()
        raw_seq, normalized_seq = results
        assert isinstance(raw_seq, int) and isinstance(normalized_seq, int)  # noqa: S101
        return raw_seq, normalized_seq

    async def _send(
        self, key: str, raw: bytes, normalized: bytes, headers: Mapping[str, str]
    ) -> list[int | BaseException]:
        raw_headers = {**headers, "Nats-Msg-Id": f"{key}:raw"}
        normalized_headers = {**headers, "Nats-Msg-Id": f"{key}:normalized"}
        if isinstance(self._bus, NatsBus):
            # Both written before either ack is awaited; acks awaited as futures.
            try:
                return list(
                    await self._bus.publish_batch(
                        [
                            Outgoing(self.raw_subject, raw, headers=raw_headers),
                            Outgoing(
                                self.normalized_subject, normalized, headers=normalized_headers
                            ),
                        ]
                    )
                )
            except BackendError as exc:
                return [exc, exc]
        return list(
            await asyncio.gather(
                self._bus.publish(self.raw_subject, raw, headers=raw_headers),
                self._bus.publish(self.normalized_subject, normalized, headers=normalized_headers),
                return_exceptions=True,
            )
        )

    def _failed(self, kind: str, count: int) -> None:
        self._last_trouble = time.monotonic()
        if count:
            self._metrics.nats_publish.labels("error").inc(count)
        connected = not isinstance(self._bus, NatsBus) or self._bus.connected
        self._metrics.nats_errors.labels(kind if connected else "connection").inc()
        # The stream may have been removed or replaced meanwhile: look again next time.
        self._stream_ready = not isinstance(self._bus, NatsBus)

    def _unavailable(self) -> NatsUnavailable:
        return NatsUnavailable(
            details={"reason": "publish_failed", "nats": self.state()},
            retry_after=self._retry_after,
        )
