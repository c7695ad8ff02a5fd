from __future__ import annotations

import asyncio
import logging
import math

import httpx
import pytest

from access_auth.jwks.cache import JwksCache, display_url
from access_auth.metrics import AuthMetrics
from access_auth.settings import DEFAULT_ALGORITHMS
from access_auth.testing import JWKS_URL, FakeClock, FakeJwks, ec_key, jwk_of, rsa_key
from access_common.http import HttpClient

ALLOWED = frozenset(DEFAULT_ALGORITHMS)


def _failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "code", None) == "JWKS_REFRESH_FAILED"]


async def test_never_loaded_is_down_with_infinite_age(cache: JwksCache) -> None:
    assert not cache.loaded
    assert not cache.available
    assert cache.status() == "down"
    assert math.isinf(cache.age())
    assert cache.lookup("k1", "RS256") is None


async def test_first_refresh_loads_signing_keys_only(
    cache: JwksCache, jwks: FakeJwks, metrics: AuthMetrics
) -> None:
    assert await cache.refresh()
    assert cache.loaded and cache.available
    assert cache.status() == "ok"
    assert cache.keys.kids == {"k1", "ec1", "ed1"}  # the enc key is skipped
    assert cache.age() == 0
    assert jwks.calls == 1
    assert jwks.urls == [JWKS_URL]
    assert metrics.jwks_keys._value.get() == 3
    assert metrics.jwks_refreshes.labels("ok")._value.get() == 1


async def test_unknown_kid_refresh_is_rate_limited(
    cache: JwksCache, jwks: FakeJwks, clock: FakeClock
) -> None:
    await cache.refresh()
    for _ in range(50):
        await cache.refresh_for_unknown_kid()
    assert jwks.calls == 1  # within min_refresh_interval of the last fetch
    clock.advance(10)
    for _ in range(50):
        await cache.refresh_for_unknown_kid()
    assert jwks.calls == 2


async def test_concurrent_refreshes_share_one_fetch(
    cache: JwksCache, jwks: FakeJwks, clock: FakeClock
) -> None:
    await cache.refresh()
    clock.advance(60)
    jwks.delay = 0.05
    await asyncio.gather(*(cache.refresh_for_unknown_kid() for _ in range(100)))
    assert jwks.calls == 2


async def test_rotation_adds_and_removes_keys(
    cache: JwksCache, jwks: FakeJwks, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    await cache.refresh()
    jwks.keys = [jwk_of(rsa_key("new"), "k2", alg="RS256")]
    clock.advance(11)
    with caplog.at_level(logging.INFO, "access_auth.jwks"):
        await cache.refresh_for_unknown_kid()
    assert cache.keys.kids == {"k2"}
    assert cache.lookup("k1", "RS256") is None
    loaded = [r for r in caplog.records if getattr(r, "event", None) == "JWKS_REFRESHED"]
    assert loaded[-1].added == ["k2"]  # type: ignore[attr-defined]
    assert loaded[-1].removed == ["ec1", "ed1", "k1"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("breakage", "result"),
    [
        ({"status": 500}, "http_error"),
        ({"status": 404}, "http_error"),
        ({"fail": httpx.ConnectError}, "unreachable"),
        ({"fail": httpx.ReadTimeout}, "unreachable"),
        ({"body": b"<html>gateway timeout</html>"}, "invalid"),
        ({"body": b'{"keys": "nope"}'}, "invalid"),
        ({"body": b'{"keys": []}'}, "empty"),
        ({"body": b'{"keys": [{"kty": "oct", "k": "AAAA"}]}'}, "empty"),
        ({"body": b'{"keys": []}' + b" " * 2_000_000}, "invalid"),
    ],
)
async def test_a_failed_refresh_keeps_the_last_good_set(
    cache: JwksCache,
    jwks: FakeJwks,
    clock: FakeClock,
    metrics: AuthMetrics,
    caplog: pytest.LogCaptureFixture,
    breakage: dict[str, object],
    result: str,
) -> None:
    await cache.refresh()
    for name, value in breakage.items():
        setattr(jwks, name, value)
    clock.advance(100)
    with caplog.at_level(logging.WARNING, "access_auth.jwks"):
        assert not await cache.refresh()
    assert cache.keys.kids == {"k1", "ec1", "ed1"}
    assert cache.lookup("k1", "RS256") is not None
    assert cache.loaded and not cache.available
    assert cache.status() == "degraded"
    assert cache.age() == 100
    (record,) = _failures(caplog)
    assert record.result == result  # type: ignore[attr-defined]
    assert record.jwks_url == JWKS_URL  # type: ignore[attr-defined]
    assert metrics.jwks_refreshes.labels(result)._value.get() == 1
    # Recovery: the next good fetch makes it available again.
    jwks.status, jwks.fail, jwks.body = 200, None, None
    assert await cache.refresh()
    assert cache.status() == "ok"


async def test_never_loaded_and_failing_stays_down(
    cache: JwksCache, jwks: FakeJwks, caplog: pytest.LogCaptureFixture
) -> None:
    jwks.fail = httpx.ConnectError
    with caplog.at_level(logging.WARNING, "access_auth.jwks"):
        assert not await cache.refresh("startup")
    assert cache.status() == "down"
    assert len(_failures(caplog)) == 1


async def test_stale_set_is_degraded_and_refreshed_in_the_background(
    cache: JwksCache, jwks: FakeJwks, clock: FakeClock
) -> None:
    await cache.refresh()
    cache.ensure_fresh()
    assert jwks.calls == 1  # still fresh
    clock.advance(3601)
    assert cache.status() == "degraded"
    cache.ensure_fresh()
    cache.ensure_fresh()  # single flight: no second task
    await asyncio.sleep(0.01)
    assert jwks.calls == 2
    assert cache.status() == "ok"


async def test_next_delay_schedules_early_refresh_and_backs_off(
    cache: JwksCache, jwks: FakeJwks, clock: FakeClock
) -> None:
    assert cache.next_delay() == 0  # never tried: now
    await cache.refresh()
    assert cache.next_delay() == pytest.approx(3600 * 0.8)
    jwks.status = 503
    delays = []
    for _ in range(6):
        await cache.refresh()
        delays.append(cache.next_delay())
    assert delays == [10, 20, 40, 60, 60, 60]


async def test_background_task_refreshes_and_stops(jwks: FakeJwks) -> None:
    http = HttpClient(timeout=1, retries=0, transport=jwks.transport())
    cache = JwksCache(JWKS_URL, http, allowed=ALLOWED, ttl=0.05, min_refresh_interval=0)
    cache.start()
    cache.start()  # idempotent
    await asyncio.sleep(0.2)
    await cache.aclose()
    calls = jwks.calls
    assert calls >= 3
    await asyncio.sleep(0.1)
    assert jwks.calls == calls
    await http.aclose()


async def test_an_unexpected_error_is_a_failed_refresh(
    jwks: FakeJwks, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def get(self, url: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
            raise RuntimeError("bug")

    cache = JwksCache(JWKS_URL, Broken(), allowed=ALLOWED)
    with caplog.at_level(logging.WARNING, "access_auth.jwks"):
        assert not await cache.refresh()
    assert _failures(caplog)[0].result == "error"  # type: ignore[attr-defined]


async def test_keys_of_other_types_parse_through_the_cache(
    cache: JwksCache, jwks: FakeJwks
) -> None:
    jwks.keys.append(jwk_of(ec_key("b", "P-384"), "ec384"))
    await cache.refresh()
    key = cache.lookup("ec384", "ES384")
    assert key is not None and key.algorithms == {"ES384"}


def test_display_url_drops_credentials_and_query() -> None:
    assert (
        display_url("https://u:p@kc:8443/realms/a/certs?x=secret")
        == "https://kc:8443/realms/a/certs"
    )
