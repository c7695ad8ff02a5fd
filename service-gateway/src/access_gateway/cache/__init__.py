"""The hot-read cache: LRU + key-value store, single flight, stale-while-revalidate."""

from access_gateway.cache.entry import CachedResponse
from access_gateway.cache.keys import cache_key, tenant_prefix
from access_gateway.cache.service import CacheResult, ResponseCache

__all__ = ["CacheResult", "CachedResponse", "ResponseCache", "cache_key", "tenant_prefix"]
