"""The adaptive TTL: minimum when unsure, up to the maximum when the hit ratio is steady."""

from __future__ import annotations

from access_entitlements.decisions.ttl import AdaptiveTtl


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _window(ttl: AdaptiveTtl, clock: Clock, hits: int, misses: int) -> int:
    for _ in range(hits):
        ttl.hit()
    for _ in range(misses):
        ttl.miss()
    clock.now += 10
    return ttl.current()


def test_steady_high_hit_ratio_grows_to_the_maximum() -> None:
    clock = Clock()
    ttl = AdaptiveTtl(30, 120, clock=clock)
    assert ttl.current() == 30
    assert _window(ttl, clock, 990, 10) == 30  # first window: nothing to compare with
    assert _window(ttl, clock, 990, 10) == 119


def test_low_traffic_and_errors_keep_the_minimum() -> None:
    clock = Clock()
    ttl = AdaptiveTtl(30, 120, clock=clock)
    _window(ttl, clock, 990, 10)
    assert _window(ttl, clock, 5, 0) == 30  # under one check a second
    _window(ttl, clock, 990, 10)
    assert _window(ttl, clock, 990, 10) > 100
    ttl.error()
    assert ttl.current() == 30
    assert _window(ttl, clock, 990, 10) == 30  # errors are remembered for a minute


def test_an_unstable_ratio_shortens_the_ttl() -> None:
    clock = Clock()
    ttl = AdaptiveTtl(30, 120, clock=clock)
    _window(ttl, clock, 100, 900)
    assert _window(ttl, clock, 900, 100) == 30
