"""The client's address: one rule for the REST pipeline and for webhooks.

The TCP peer, unless the gateway is told who stands in front of it:

- ``ACCESS_WEBHOOK_TRUSTED_PROXIES`` (CIDRs): ``X-Forwarded-For`` is believed only when
  the peer is one of them, walked from the right while each hop is itself a proxy; the
  first untrusted hop is the client. A client cannot forge its address by sending its
  own header, and it works whatever the number of proxies on a path.
- else ``ACCESS_FORWARDED_FOR_HOPS`` (a count): the address that many places from the
  right of ``X-Forwarded-For`` (never the leftmost, which the client writes), or the
  peer when the header is shorter.

When both are set the CIDRs win (the stricter rule) and the gateway says so at start.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["ClientIpRule", "IpAddress", "Network", "parse_ip"]

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


class ClientIpRule:
    """Who the client is, from the TCP peer and ``X-Forwarded-For``."""

    __slots__ = ("conflict", "forwarded_for_hops", "trusted_proxies")

    def __init__(
        self, *, trusted_proxies: Sequence[Network] = (), forwarded_for_hops: int = 0
    ) -> None:
        self.trusted_proxies = tuple(trusted_proxies)
        # What to say at start when both are given: the CIDRs win, the count is ignored.
        self.conflict = (
            "ACCESS_FORWARDED_FOR_HOPS is ignored: ACCESS_WEBHOOK_TRUSTED_PROXIES names the "
            "trusted proxies, and X-Forwarded-For is walked through them instead"
            if self.trusted_proxies and forwarded_for_hops
            else None
        )
        self.forwarded_for_hops = 0 if self.trusted_proxies else max(0, forwarded_for_hops)

    def address(self, peer: str | None, forwarded_for: str | None) -> IpAddress | None:
        """The client's address, parsed; None when no address can be told."""
        if self.trusted_proxies:
            return self._walk(parse_ip(peer), forwarded_for)
        hop = self._hop(forwarded_for)
        return parse_ip(hop if hop is not None else peer)

    def text(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address as text (``unknown`` when none): the rate-limit subject."""
        if not self.trusted_proxies and not self.forwarded_for_hops:
            return peer or "unknown"  # the common case: no parsing on the hot path
        address = self.address(peer, forwarded_for)
        return str(address) if address is not None else "unknown"

    def _hop(self, forwarded_for: str | None) -> str | None:
        hops = self.forwarded_for_hops
        if not hops or not forwarded_for:
            return None
        chain = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        return chain[-hops] if len(chain) >= hops else None

    def _walk(self, address: IpAddress | None, forwarded_for: str | None) -> IpAddress | None:
        proxies = self.trusted_proxies
        if address is None or not forwarded_for or not _trusted(address, proxies):
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


def _trusted(address: IpAddress, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)
