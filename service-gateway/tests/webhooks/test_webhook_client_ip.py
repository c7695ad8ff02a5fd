"""The client address: X-Forwarded-For honoured only through trusted proxies."""

from __future__ import annotations

import ipaddress

from access_gateway.webhooks.client_ip import client_address

PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)


def test_direct_peer_without_proxies() -> None:
    assert str(client_address("203.0.113.9", "1.2.3.4", ())) == "203.0.113.9"


def test_untrusted_peer_is_the_client() -> None:
    assert str(client_address("203.0.113.9", "1.2.3.4", PROXIES)) == "203.0.113.9"


def test_rightmost_untrusted_hop_through_proxies() -> None:
    assert str(client_address("10.0.0.1", "1.2.3.4, 5.6.7.8, 10.0.0.2", PROXIES)) == "5.6.7.8"


def test_garbled_hop_stops_the_walk() -> None:
    assert str(client_address("10.0.0.1", "1.2.3.4, garbage", PROXIES)) == "10.0.0.1"


def test_no_peer() -> None:
    assert client_address(None, None, PROXIES) is None
