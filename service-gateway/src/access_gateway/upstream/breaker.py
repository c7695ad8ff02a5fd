"""A circuit breaker per upstream: closed, open after consecutive failures, half-open probe."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

__all__ = ["CircuitBreaker", "State"]

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Stop calling an upstream that keeps failing; let one probe test it after a pause."""

    def __init__(
        self,
        failure_threshold: int,
        reset_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self.opened = 0  # times the circuit opened, for metrics

    @property
    def state(self) -> State:
        """Closed (calls flow), open (refused), or half-open (one probe may go)."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_seconds:
            return "half_open"
        return "open"

    def retry_after(self) -> float:
        """Seconds until a probe is let through."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset_seconds - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """True when a call may go now; in half-open, only the one probe."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        """A call succeeded: close the circuit."""
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        """A call failed: open after the threshold, or re-open after a failed probe."""
        self._failures += 1
        if self._probing or self._failures >= self.failure_threshold:
            if self._opened_at is None or self._probing:
                self.opened += 1
            self._opened_at = self._clock()
            self._probing = False

    def release_probe(self) -> None:
        """A granted probe was not sent (the call was refused locally): let another go."""
        self._probing = False

    def reconfigure(self, failure_threshold: int, reset_seconds: float) -> None:
        """Apply a reloaded policy, keeping the current state."""
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
