"""The adaptive TTL (minimum when unsure, maximum when steady) and the bounded local tier."""

from __future__ import annotations

from access_entitlements.decisions.cache import Cached, LocalDecisions
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


def test_the_local_tier_is_bounded_and_drops_the_oldest() -> None:
    local = LocalDecisions(max_entries=100)
    entry = Cached(1, True, "r", "rule_allows", expires_at=100.0)
    for i in range(250):
        local.put(("t", f"u{i}", (), "read", "curve:X"), entry)
    assert len(local) == 100
    assert local.get(("t", "u149", (), "read", "curve:X"), 1, now=0.0) is None
    assert local.get(("t", "u150", (), "read", "curve:X"), 1, now=0.0) == entry
    assert local.get(("t", "u150", (), "read", "curve:X"), 2, now=0.0) is None  # newer version
    assert local.get(("t", "u151", (), "read", "curve:X"), 1, now=100.0) is None  # expired
