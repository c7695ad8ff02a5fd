"""Cache keys: the tenant first, then everything the answer depends on, hashed.

``gw:c:<tenant>:<route id>:<digest>`` where the digest covers the method, the path, the
validated query (sorted, defaults filled in, so equivalent URLs share an entry), the
user when the route's cache is per user, and the body of a cacheable POST. The tenant
is a literal prefix so one tenant's entries can be listed or purged on their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

__all__ = ["cache_key", "tenant_prefix"]


def tenant_prefix(tenant: str) -> str:
    """The prefix of every entry of one tenant."""
    return f"gw:c:{tenant}:"


def cache_key(
    *,
    tenant: str,
    route_id: str,
    method: str,
    path: str,
    query: Mapping[str, object],
    user: str | None = None,
    body: bytes | None = None,
) -> str:
    """The key of one cacheable request."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(method.encode())
    digest.update(b"\0" + path.encode())
    for name in sorted(query):
        digest.update(b"\0" + name.encode() + b"=" + str(query[name]).encode())
    if user is not None:
        digest.update(b"\0u:" + user.encode())
    if body:
        digest.update(b"\0b:" + body)
    return f"{tenant_prefix(tenant)}{route_id}:{digest.hexdigest()}"
