"""What every scheme hands back once a webhook is authentic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from access_gateway.webhooks.errors import ReplayRejected

__all__ = ["Verified", "check_window"]


def check_window(header: str, sent: float, clock: Callable[[], float], window: int) -> None:
    """Refuse (GW-002) a timestamp more than ``window`` seconds from now, either side."""
    skew = clock() - sent
    if abs(skew) > window:
        raise ReplayRejected(
            f"{header} is outside the replay window",
            details={
                "reason": "timestamp_outside_window",
                "window_sec": window,
                "skew_sec": round(skew, 1),
            },
        )


@dataclass(frozen=True, slots=True)
class Verified:
    """An authentic webhook: what replay protection and idempotency need from it.

    ``nonce`` is set by the seed HMAC scheme (remembered to refuse its reuse);
    ``message_id`` by Standard Webhooks (it is the idempotency key); ``document`` when
    the scheme had to parse the body (token in body), ``raw`` is the body to publish
    (the body minus the token when the token travelled in it).
    """

    scheme: str
    raw: bytes
    nonce: str | None = None
    message_id: str | None = None
    document: dict[str, Any] | None = None
