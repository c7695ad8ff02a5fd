"""Adaptive TTL: short when idle or after errors, long when busy and healthy."""

from __future__ import annotations

from access_gateway.cache.ttl import AdaptiveTtl


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_ttl_grows_with_traffic_and_drops_on_errors() -> None:
    clock = Clock()
    ttl = AdaptiveTtl(clock=clock)
    assert ttl.ttl(10, 60) == 10
    for _ in range(600):  # 20 requests a second for 30 s
        clock.now += 0.05
        ttl.request()
    assert ttl.ttl(10, 60) > 50
    ttl.error()
    assert ttl.ttl(10, 60) == 10
    clock.now += 61
    ttl.request()
    assert ttl.ttl(10, 60) > 10
