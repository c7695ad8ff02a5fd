"""Tiered rate limits (seed 001 §8) on the shared limiter."""

from access_gateway.ratelimit.service import RateLimits
from access_gateway.ratelimit.tiers import BUILTIN_LIMITS, Tier, TierTable, TierTableError

__all__ = ["BUILTIN_LIMITS", "RateLimits", "Tier", "TierTable", "TierTableError"]
