"""Upstream services: calls with timeouts, retries, a breaker and a concurrency bound."""

from access_gateway.upstream.breaker import CircuitBreaker
from access_gateway.upstream.client import Upstream, UpstreamCall
from access_gateway.upstream.registry import Upstreams

__all__ = ["CircuitBreaker", "Upstream", "UpstreamCall", "Upstreams"]
