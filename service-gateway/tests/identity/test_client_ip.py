"""One client-address rule for REST and webhooks: trusted proxies (CIDRs) or a hop count."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import httpx
import pytest

from access_common.backends.memory_kv import MemoryKeyValue
from access_gateway.identity.client_ip import ClientIpRule, parse_ip
from access_gateway.testing import (
    FakeAuth,
    FakeEntitlements,
    FakeUpstream,
    gateway,
    gateway_settings,
)

PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)
CIDRS = ClientIpRule(trusted_proxies=PROXIES)


def test_direct_peer_without_proxies() -> None:
    rule = ClientIpRule()
    assert str(rule.address("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    assert rule.text("203.0.113.9", "1.2.3.4") == "203.0.113.9"
    assert rule.text(None, None) == "unknown"


def test_untrusted_peer_is_the_client() -> None:
    assert str(CIDRS.address("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


def test_rightmost_untrusted_hop_through_proxies() -> None:
    assert str(CIDRS.address("10.0.0.1", "1.2.3.4, 5.6.7.8, 10.0.0.2")) == "5.6.7.8"
    assert CIDRS.text("10.0.0.1", "1.2.3.4, 5.6.7.8, 10.0.0.2") == "5.6.7.8"


def test_garbled_hop_stops_the_walk() -> None:
    assert str(CIDRS.address("10.0.0.1", "1.2.3.4, garbage")) == "10.0.0.1"


def test_no_peer() -> None:
    assert CIDRS.address(None, None) is None
    assert CIDRS.text(None, None) == "unknown"


def test_hop_count_takes_the_entry_that_many_places_from_the_right() -> None:
    rule = ClientIpRule(forwarded_for_hops=2)
    assert rule.text("10.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2") == "203.0.113.9"
    # Shorter than the count: the header is not the proxies' own, the peer is the client.
    assert rule.text("10.0.0.1", "203.0.113.9") == "10.0.0.1"
    assert rule.text("10.0.0.1", None) == "10.0.0.1"
    # Never the text itself when it is not an address (it becomes a rate-limit key).
    assert rule.text("10.0.0.1", "x, not-an-ip, 10.0.0.2") == "unknown"
    assert rule.address("10.0.0.1", " 203.0.113.9 , 10.0.0.2") == parse_ip("203.0.113.9")


def test_cidrs_win_over_a_hop_count_and_say_so() -> None:
    both = ClientIpRule(trusted_proxies=PROXIES, forwarded_for_hops=3)
    assert both.forwarded_for_hops == 0
    assert both.conflict is not None and "ACCESS_FORWARDED_FOR_HOPS is ignored" in both.conflict
    assert str(both.address("10.0.0.1", "6.6.6.6, 5.6.7.8, 10.0.0.2")) == "5.6.7.8"
    assert ClientIpRule(forwarded_for_hops=3).conflict is None


_TABLE = """
upstreams:
  projection: {url: "${ACCESS_PROJECTION_SERVICE_URL}"}
routes:
  - {id: status, path: /api/v1/status, upstream: projection, auth: false, tier: public}
"""
_LIMITS = """tiers:
  public: {requests: 2, window_seconds: 86400, scope: ip}
  authenticated: {requests: 1000, window_seconds: 60, scope: user}
"""


async def test_rest_pipeline_uses_the_trusted_proxies_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    routes, limits = tmp_path / "routes.yaml", tmp_path / "limits.yaml"
    routes.write_text(_TABLE)
    limits.write_text(_LIMITS)
    transports = {
        "auth.test": httpx.MockTransport(FakeAuth().handler),
        "entitlements.test": httpx.MockTransport(FakeEntitlements().handler),
        "projection.test": httpx.MockTransport(FakeUpstream().handler),
    }
    settings = gateway_settings(
        routes_file=routes,
        rate_limits_file=limits,
        webhook_trusted_proxies=["127.0.0.0/8"],  # the test client's peer is 127.0.0.1
        forwarded_for_hops=1,
    )
    with caplog.at_level(logging.WARNING, logger="access_gateway"):
        async with gateway(settings, transports, MemoryKeyValue()) as client:
            alice = {"X-Forwarded-For": "203.0.113.9"}
            forged = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
            answers = [await client.get("/api/v1/status", headers=alice) for _ in range(2)]
            assert [a.status_code for a in answers] == [200, 200]
            # A client writing its own header is still counted as itself.
            assert (await client.get("/api/v1/status", headers=forged)).status_code == 429
            other = {"X-Forwarded-For": "198.51.100.7"}
            assert (await client.get("/api/v1/status", headers=other)).status_code == 200
    assert any("ACCESS_FORWARDED_FOR_HOPS is ignored" in r.getMessage() for r in caplog.records)
