"""Server-Timing: how long each stage of one request took, sent back to the client."""

from __future__ import annotations

import time

__all__ = ["ServerTiming"]


class ServerTiming:
    """Stage durations of one request, rendered as a ``Server-Timing`` header value."""

    __slots__ = ("_marks", "_started")

    def __init__(self) -> None:
        self._marks: list[tuple[str, float, str]] = []
        self._started = time.perf_counter()

    def start(self) -> float:
        """A start time for a stage."""
        return time.perf_counter()

    def stop(self, stage: str, started: float, description: str = "") -> None:
        """Record a stage that began at ``started``."""
        self._marks.append((stage, time.perf_counter() - started, description))

    def header(self) -> str:
        """``stage;dur=<ms>[;desc="..."]`` per stage, then the total."""
        parts = [
            f"{name};dur={seconds * 1000:.3f}" + (f';desc="{desc}"' if desc else "")
            for name, seconds, desc in self._marks
        ]
        parts.append(f"total;dur={(time.perf_counter() - self._started) * 1000:.3f}")
        return ", ".join(parts)
