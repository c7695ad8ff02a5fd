"""A cached upstream answer and its wire form in the key-value store."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

__all__ = ["CachedResponse"]


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """Status, kept headers and body of an upstream answer, with its freshness times.

    Times are wall-clock seconds (entries are shared by replicas): ``stored_at`` when it
    was fetched, fresh until ``fresh_until``, servable stale until ``stale_until``;
    ``as_of`` is when the upstream says its data was computed (else ``stored_at``).
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    stored_at: float = 0.0
    fresh_until: float = 0.0
    stale_until: float = 0.0
    as_of: float = 0.0

    def encode(self) -> bytes:
        """One blob: a JSON line of metadata, then the body as is."""
        meta = {
            "s": self.status,
            "h": self.headers,
            "t": self.stored_at,
            "f": self.fresh_until,
            "x": self.stale_until,
            "a": self.as_of,
        }
        return orjson.dumps(meta) + b"\n" + self.body

    @classmethod
    def decode(cls, blob: bytes) -> CachedResponse | None:
        """Parse a blob written by :meth:`encode`; None when it is not one."""
        head, sep, body = blob.partition(b"\n")
        if not sep:
            return None
        try:
            meta = orjson.loads(head)
            return cls(
                status=int(meta["s"]),
                headers=tuple((str(k), str(v)) for k, v in meta["h"]),
                body=body,
                stored_at=float(meta["t"]),
                fresh_until=float(meta["f"]),
                stale_until=float(meta["x"]),
                as_of=float(meta["a"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
