"""Push counters, gauges and histogram observations to the metrics service, off the hot path.

Recording (:meth:`MetricsPusher.inc`, :meth:`~MetricsPusher.set`,
:meth:`~MetricsPusher.observe`) is a dict update: no I/O, no await, no lock. Counters
are summed and gauges keep their last value until the next flush, so a busy service
sends one sample per series per interval, not one per event. A background task flushes
every ``interval`` seconds in batches of ``max_batch``.

When the metrics service is down, slow or refuses a batch, the pushing service never
waits or fails: the batch is dropped (not retried: a retried batch could count twice)
and the drop is counted in ``metrics_push_dropped_samples_total{reason}`` on the
pushing service's own registry. Past ``max_pending`` buffered series or observations,
new ones are dropped the same way (reason ``buffer_full``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from access_common.clients.metrics import MetricsClient
from access_common.errors import AccessError

__all__ = ["MetricsPusher"]

logger = logging.getLogger("access_common.pusher")

_LabelKey = tuple[tuple[str, str], ...]
_DROP_REASONS = ("buffer_full", "unreachable", "refused", "series_limit")


def _key(name: str, labels: Mapping[str, str] | None) -> tuple[str, _LabelKey]:
    return name, tuple(sorted(labels.items())) if labels else ()


class MetricsPusher:
    """Buffer samples in process and push them to ``POST /metrics/track`` periodically."""

    def __init__(
        self,
        client: MetricsClient,
        *,
        source: str,
        interval: float = 1.0,
        max_batch: int = 500,
        max_pending: int = 10_000,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.client = client
        self.source = source
        self.interval = interval
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._counters: dict[tuple[str, _LabelKey], float] = {}
        self._gauges: dict[tuple[str, _LabelKey], float | str] = {}
        self._observations: list[tuple[str, _LabelKey, float]] = []
        self._buckets: dict[str, list[float]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._flushing = asyncio.Lock()
        self.sent = Counter(
            "metrics_push_sent_samples_total",
            "Samples accepted by the metrics service",
            registry=registry,
        )
        self.dropped = Counter(
            "metrics_push_dropped_samples_total",
            "Samples dropped instead of pushed, by reason",
            ("reason",),
            registry=registry,
        )
        for reason in _DROP_REASONS:
            self.dropped.labels(reason)

    @property
    def pending(self) -> int:
        """Series and observations waiting for the next flush."""
        return len(self._counters) + len(self._gauges) + len(self._observations)

    def inc(self, name: str, value: float = 1.0, labels: Mapping[str, str] | None = None) -> None:
        """Add to a counter (summed locally until the next flush)."""
        key = _key(name, labels)
        counters = self._counters
        if key in counters:
            counters[key] += value
        elif self.pending < self.max_pending:
            counters[key] = value
        else:
            self.dropped.labels("buffer_full").inc()

    def set(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Set a gauge (the last value before a flush is pushed)."""
        key = _key(name, labels)
        if key in self._gauges or self.pending < self.max_pending:
            self._gauges[key] = value
        else:
            self.dropped.labels("buffer_full").inc()

    def observe(
        self,
        name: str,
        value: float,
        labels: Mapping[str, str] | None = None,
        *,
        buckets: Sequence[float] | None = None,
    ) -> None:
        """Record one histogram observation; ``buckets`` fixes the histogram's bounds."""
        if buckets is not None and name not in self._buckets:
            self._buckets[name] = list(buckets)
        if self.pending < self.max_pending:
            self._observations.append((name, _key(name, labels)[1], value))
        else:
            self.dropped.labels("buffer_full").inc()

    def start(self) -> None:
        """Start the periodic flush (call once the event loop runs, e.g. in a lifespan)."""
        if self._task is None:
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="metrics-pusher")

    async def aclose(self, *, final_flush_timeout: float = 1.0) -> None:
        """Stop: the flush in flight and one last flush get ``final_flush_timeout`` seconds."""
        task, self._task = self._task, None
        if task is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), final_flush_timeout)
            return
        self._stop.set()
        # On timeout wait_for cancels the task; the batch in flight is counted as dropped.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, final_flush_timeout)

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
            # Read before flushing: a stop during this flush still gets one last flush.
            stopping = self._stop.is_set()
            try:
                await self.flush()
            except Exception:  # the loop must outlive any surprise
                logger.exception("metrics push failed")

    def _take(self) -> list[dict[str, Any]]:
        """Swap the buffers out and turn them into wire samples."""
        counters, self._counters = self._counters, {}
        gauges, self._gauges = self._gauges, {}
        observations, self._observations = self._observations, []
        source = self.source
        samples: list[dict[str, Any]] = [
            {"name": name, "type": "counter", "value": value, "labels": dict(labels),
             "source": source}
            for (name, labels), value in counters.items()
        ]  # fmt: skip
        samples += (
            {"name": name, "type": "gauge", "value": value, "labels": dict(labels),
             "source": source}
            for (name, labels), value in gauges.items()
        )  # fmt: skip
        for name, labels, value in observations:
            sample = {"name": name, "type": "histogram", "value": value, "labels": dict(labels),
                      "source": source}  # fmt: skip
            if name in self._buckets:
                sample["buckets"] = self._buckets[name]
            samples.append(sample)
        return samples

    async def flush(self) -> int:
        """Push everything buffered now; return how many samples were accepted."""
        async with self._flushing:
            samples = self._take()
            accepted = 0
            for start in range(0, len(samples), self.max_batch):
                batch = samples[start : start + self.max_batch]
                try:
                    result = await self.client.track(batch)
                except AccessError as exc:
                    self._drop(exc, len(batch))
                    continue
                except asyncio.CancelledError:
                    self.dropped.labels("unreachable").inc(len(samples) - start)
                    raise
                accepted += result.accepted
                self.sent.inc(result.accepted)
                if result.refused:
                    self.dropped.labels("series_limit").inc(result.refused)
            return accepted

    def _drop(self, exc: AccessError, count: int) -> None:
        """Count a dropped batch: the service refused it (a bug here) or could not be reached."""
        status = exc.details.get("status") if exc.details else None
        refused = exc.status < 500 or (isinstance(status, int) and 400 <= status < 500)
        self.dropped.labels("refused" if refused else "unreachable").inc(count)
        if refused:
            logger.warning("metrics service refused a batch: %s", exc.code,
                           extra={"code": exc.code, "samples": count})  # fmt: skip
