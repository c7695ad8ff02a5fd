"""CircuitBreaker: opens after consecutive failures, one probe when half-open."""

from __future__ import annotations

from access_gateway.upstream.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> str:
    # A function, so mypy does not carry a narrowed property across calls.
    return breaker.state


def test_open_half_open_closed() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, 10, clock=clock)
    for _ in range(2):
        breaker.failure()
    assert state(breaker) == "closed"
    breaker.success()
    for _ in range(3):
        breaker.failure()
    assert state(breaker) == "open"
    assert not breaker.allow()
    assert breaker.retry_after() == 10
    clock.now += 10
    assert state(breaker) == "half_open"
    assert breaker.allow()
    assert not breaker.allow()  # only one probe
    breaker.failure()
    assert state(breaker) == "open"
    assert breaker.opened == 2
    clock.now += 10
    assert breaker.allow()
    breaker.success()
    assert state(breaker) == "closed"
    assert breaker.allow()


def test_a_probe_not_sent_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 1, clock=clock)
    breaker.failure()
    clock.now += 1
    assert breaker.allow()
    breaker.release_probe()
    assert breaker.allow()
