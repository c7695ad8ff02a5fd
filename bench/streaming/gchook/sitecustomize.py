"""Time every garbage collection of a server under test; loaded by Python at start-up.

The bench puts this folder first on ``PYTHONPATH`` and names a file in ``BENCH_GC_STATS``
for each server it starts (plain baseline, blaster, streaming service), so every Python
server is measured the same way without any code of its own: ``gc.callbacks`` marks the
start and stop of each collection; counts, the total, the longest pause and a count per
threshold are written as JSON at most once a second (after the pause is measured, so
the write is never part of it) and at exit. The bench sends SIGUSR2 once the server is up
(start-up collections are dropped: counting starts afresh) and SIGUSR1 when its load ends
(the numbers are written and frozen, so shutdown is not counted). Without ``BENCH_GC_STATS``
it does nothing.

With ``BENCH_GC_TRACE`` naming a file as well, each collection is also appended there as
one JSON line (generation, wall/CPU ms, objects in the generations it walked, collected,
``gc.get_count()`` before it, ``gc.get_stats()`` of its generation): for finding which
collections are long and why. Counting the walked objects lists them (``gc.get_objects``),
which costs time before the collection starts (not inside the timed pause): diagnosis
only, never in a reported run.
"""

from __future__ import annotations

import atexit
import gc
import os
import signal
import time
from typing import Any

import orjson

THRESHOLDS_MS = (1, 5, 10, 20, 50, 100)


class GcTimer:
    """Accumulates collection pauses and writes them to one file."""

    def __init__(self, path: str, trace: str = "") -> None:
        self.path = path
        self.trace = trace
        self.traced: list[bytes] = []
        self.walked = 0
        self.counts: tuple[int, int, int] = (0, 0, 0)
        self.started = 0.0
        self.started_cpu = 0.0
        self.written = 0.0
        self.recording = True
        self.reset()

    def reset(self) -> None:
        """Start counting afresh."""
        self.collections = [0, 0, 0]
        self.total_ms = 0.0
        self.max_ms = 0.0
        self.max_generation = -1
        self.over_ms = dict.fromkeys(map(str, THRESHOLDS_MS), 0)
        # The same pauses in the thread's CPU time: on a shared core the wall time includes
        # time the core was taken away; the CPU time is what the collector itself cost.
        self.max_cpu_ms = 0.0
        self.over_cpu_ms = dict.fromkeys(map(str, THRESHOLDS_MS), 0)

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        """The ``gc.callbacks`` entry: time from ``start`` to ``stop``."""
        if not self.recording:
            return
        if phase == "start":
            if self.trace:
                self.counts = gc.get_count()
                generation = int(info.get("generation", 0))
                self.walked = sum(len(gc.get_objects(g)) for g in range(generation + 1))
            self.started = time.perf_counter()
            self.started_cpu = time.thread_time()
            return
        if not self.started:
            return  # reset between start and stop: this one is not ours
        pause = (time.perf_counter() - self.started) * 1000
        cpu = (time.thread_time() - self.started_cpu) * 1000
        self.started = 0.0
        self.max_cpu_ms = max(self.max_cpu_ms, cpu)
        for threshold in THRESHOLDS_MS:
            if cpu > threshold:
                self.over_cpu_ms[str(threshold)] += 1
        generation = int(info.get("generation", 0))
        self.collections[min(generation, 2)] += 1
        self.total_ms += pause
        if pause > self.max_ms:
            self.max_ms, self.max_generation = pause, generation
        for threshold in THRESHOLDS_MS:
            if pause > threshold:
                self.over_ms[str(threshold)] += 1
        if self.trace:
            self.traced.append(
                orjson.dumps(
                    {
                        "pid": os.getpid(),
                        "t": round(time.time(), 3),
                        "gen": generation,
                        "ms": round(pause, 3),
                        "cpu_ms": round(cpu, 3),
                        "walked": self.walked,
                        "collected": info.get("collected"),
                        "uncollectable": info.get("uncollectable"),
                        "count_before": self.counts,
                        "stats": gc.get_stats()[min(generation, 2)],
                    }
                )
            )
        now = time.monotonic()
        if now - self.written >= 1.0:
            self.written = now
            self.write()

    def on_start_signal(self, signum: int, frame: object) -> None:
        """SIGUSR2: the server is up; count from now."""
        self.reset()
        self.recording = True
        if self.trace:
            self.traced.append(orjson.dumps({"pid": os.getpid(), "t": time.time(), "event": "up"}))
        self.write()

    def on_stop_signal(self, signum: int, frame: object) -> None:
        """SIGUSR1: the load is over; stop counting and write."""
        self.recording = False
        self.write()

    def write(self) -> None:
        """Replace the stats file atomically."""
        body = {
            "pid": os.getpid(),
            "collections": self.collections,
            "total_ms": round(self.total_ms, 3),
            "max_ms": round(self.max_ms, 3),
            "max_generation": self.max_generation,
            "over_ms": self.over_ms,
            "max_cpu_ms": round(self.max_cpu_ms, 3),
            "over_cpu_ms": self.over_cpu_ms,
        }
        if not self.recording:
            # Counting the permanent generation walks it (gc_list_size): with a service that
            # freezes after full collections that is millions of objects, tens of ms of
            # stall inside the server. Counted once, when the load is over.
            body["frozen"] = gc.get_freeze_count()
        if self.traced:
            try:
                with open(self.trace, "ab") as out:
                    out.write(b"\n".join(self.traced) + b"\n")
            except OSError:
                pass
            self.traced = []
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as out:
                out.write(orjson.dumps(body))
            os.replace(tmp, self.path)
        except OSError:
            pass


def _install() -> None:
    path = os.environ.get("BENCH_GC_STATS")
    if not path:
        return
    timer = GcTimer(path, os.environ.get("BENCH_GC_TRACE", ""))
    gc.callbacks.append(timer.callback)
    signal.signal(signal.SIGUSR2, timer.on_start_signal)
    signal.signal(signal.SIGUSR1, timer.on_stop_signal)
    atexit.register(timer.write)
    timer.write()


_install()
