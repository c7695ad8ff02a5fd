"""The client's address, honouring ``X-Forwarded-For`` only from configured trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["IpAddress", "Network", "client_address", "parse_ip"]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str | None) -> IpAddress | None:
    """An address, or None when ``text`` is not one."""
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: IpAddress, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]
) -> IpAddress | None:
    """The first untrusted hop, walking ``X-Forwarded-For`` from the right.

    Only a peer inside ``proxies`` may speak for the client; each hop it names is
    trusted only if it is itself a proxy, so a client cannot forge its address by
    sending its own ``X-Forwarded-For``.
    """
    address = parse_ip(peer)
    if address is None or not proxies or not forwarded_for or not _trusted(address, proxies):
        return address
    for hop in reversed(forwarded_for.split(",")):
        hop_address = parse_ip(hop)
        if hop_address is None:
            # A garbled entry: the last hop we could trust is the best answer.
            return address
        address = hop_address
        if not _trusted(address, proxies):
            return address
    return address
