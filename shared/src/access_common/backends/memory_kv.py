"""The in-process key-value store: the embedded default when no Redis is configured.

State lives in one dict per instance, so it is neither shared between processes nor
durable; that is the point of the embedded mode. Every method finishes without
awaiting, which makes each one atomic under asyncio (``set_if_absent`` and ``incr``
need no lock). Values are bytes, as Redis stores them: ``incr`` keeps its counter as
ASCII digits, so ``get`` after ``incr`` returns ``b"5"`` on both implementations.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence

from access_common.backends.kv import ClaimEntry
from access_common.errors import BackendError

__all__ = ["MemoryKeyValue"]

# Below this many stale heap entries a rebuild costs more than it saves.
_COMPACT_SLACK = 64


class MemoryKeyValue:
    """An in-process implementation of :class:`~access_common.backends.kv.KeyValue`."""

    name = "memory"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, bytes] = {}
        self._deadlines: dict[str, float] = {}
        # A min-heap of (deadline, key). Entries go stale when a key is overwritten or
        # deleted; they are skipped when popped and dropped on compaction.
        self._heap: list[tuple[float, str]] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryKeyValue(keys={len(self._values)})"

    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        self._check_open()
        return self._live(key, self._clock())

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store a value, replacing any; expire after ``ttl`` seconds when given."""
        self._check_open()
        now = self._clock()
        self._sweep(now)
        self._store(key, bytes(value), _deadline(now, ttl))

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        """Store only when the key is absent; True when stored."""
        self._check_open()
        now = self._clock()
        self._sweep(now)
        if self._live(key, now) is not None:
            return False
        self._store(key, bytes(value), _deadline(now, ttl))
        return True

    async def set_many_if_absent(self, entries: Sequence[ClaimEntry]) -> list[bool]:
        """``set_if_absent`` for each ``(key, value, ttl)``, in order; True where stored."""
        self._check_open()
        now = self._clock()
        deadlines = [_deadline(now, ttl) for _, _, ttl in entries]  # validate all first
        self._sweep(now)
        stored: list[bool] = []
        for (key, value, _), deadline in zip(entries, deadlines, strict=True):
            fresh = self._live(key, now) is None
            if fresh:
                self._store(key, bytes(value), deadline)
            stored.append(fresh)
        return stored

    async def delete(self, key: str) -> bool:
        """Remove a key; True when it existed."""
        self._check_open()
        now = self._clock()
        existed = self._live(key, now) is not None
        self._forget(key)
        return existed

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add to an integer counter and return the new value; ``ttl`` only on creation."""
        self._check_open()
        now = self._clock()
        deadline = _deadline(now, ttl)
        self._sweep(now)
        current = self._live(key, now)
        if current is None:
            value = amount
            self._store(key, str(value).encode(), deadline)
            return value
        try:
            value = int(current) + amount
        except ValueError:
            # The same failure Redis reports for INCR on a non-integer string.
            raise BackendError("Value is not an integer", details={"backend": self.name}) from None
        # An existing key keeps its expiry (or lack of one), as INCRBY does in Redis.
        self._values[key] = str(value).encode()
        return value

    async def ttl(self, key: str) -> float | None:
        """Seconds left before the key expires; None when absent or without expiry."""
        self._check_open()
        now = self._clock()
        if self._live(key, now) is None:
            return None
        deadline = self._deadlines.get(key)
        return None if deadline is None else max(deadline - now, 0.0)

    async def ping(self) -> None:
        """Return at once: the store is this process; raise only after ``close``."""
        self._check_open()

    async def close(self) -> None:
        """Drop every key; idempotent. Later calls raise BackendError."""
        self._closed = True
        self._values.clear()
        self._deadlines.clear()
        self._heap.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("Key-value store is closed", details={"backend": self.name})

    def _live(self, key: str, now: float) -> bytes | None:
        """The value unless absent or expired; expired keys are removed on the way."""
        deadline = self._deadlines.get(key)
        if deadline is not None and deadline <= now:
            self._forget(key)
            return None
        return self._values.get(key)

    def _store(self, key: str, value: bytes, deadline: float | None) -> None:
        self._values[key] = value
        if deadline is None:
            self._deadlines.pop(key, None)
            return
        self._deadlines[key] = deadline
        heapq.heappush(self._heap, (deadline, key))
        if len(self._heap) > 2 * len(self._deadlines) + _COMPACT_SLACK:
            # Keys rewritten with fresh TTLs leave stale entries behind; rebuilding
            # keeps the heap proportional to the keys that actually expire.
            self._heap = [(d, k) for k, d in self._deadlines.items()]
            heapq.heapify(self._heap)

    def _forget(self, key: str) -> None:
        self._values.pop(key, None)
        self._deadlines.pop(key, None)

    def _sweep(self, now: float) -> None:
        """Remove every expired key, so keys nobody reads again do not pile up."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, key = heapq.heappop(heap)
            # Skip entries left by a later overwrite or delete of the same key.
            if self._deadlines.get(key) == deadline:
                self._forget(key)


def _deadline(now: float, ttl: float | None) -> float | None:
    """The monotonic deadline for a TTL in seconds; None for no expiry."""
    if ttl is None:
        return None
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    return now + ttl
