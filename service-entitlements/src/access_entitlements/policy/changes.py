"""Version changes for clients: ``GET /entitlements/policy-versions`` as a long poll.

Each replica numbers the version increases it learns (from local writes, the feed or
the store) in a sequence that starts afresh with the process (an ``epoch``). A client
passes the cursor of its last answer and gets the changes after it, waiting up to
``wait`` seconds for one; a cursor of another epoch, or one too old for the ring of
recent changes, gets the full map instead. So a client behind a load balancer that
reaches another replica simply starts over with a full map.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque

__all__ = ["Changes", "VersionChanges"]

_RING = 10_000

Changes = tuple[str, dict[str, int], bool]


class VersionChanges:
    """The recent version increases of this replica, and waiting for the next one."""

    def __init__(self, snapshot: dict[str, int]) -> None:
        self.epoch = uuid.uuid4().hex[:12]
        self._seq = 0
        self._ring: deque[tuple[int, str, int]] = deque(maxlen=_RING)
        self._versions = dict(snapshot)
        self._changed = asyncio.Event()

    def record(self, tenant_id: str, version: int) -> None:
        """A listener of PolicyVersions: remember one increase and wake the waiters."""
        self._seq += 1
        self._ring.append((self._seq, tenant_id, version))
        self._versions[tenant_id] = version
        self._changed.set()
        self._changed = asyncio.Event()

    def cursor(self) -> str:
        """The cursor of the present."""
        return f"{self.epoch}:{self._seq}"

    def _since(self, cursor: str | None) -> Changes | None:
        epoch, _, raw = (cursor or "").partition(":")
        if epoch != self.epoch or not raw.isdigit():
            return self.cursor(), dict(self._versions), True
        seq = int(raw)
        if seq > self._seq or (self._ring and seq < self._ring[0][0] - 1):
            return self.cursor(), dict(self._versions), True
        changes = {t: v for s, t, v in self._ring if s > seq}
        return (self.cursor(), changes, False) if changes else None

    async def since(self, cursor: str | None, wait: float) -> Changes:
        """Changes after the cursor (or everything), waiting up to ``wait`` s for one."""
        found = self._since(cursor)
        if found is not None or wait <= 0:
            return found or (self.cursor(), {}, False)
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), wait)
        except TimeoutError:
            return self.cursor(), {}, False
        return self._since(cursor) or (self.cursor(), {}, False)
