from __future__ import annotations

import pytest

from access_common.backends.memory_kv import MemoryKeyValue
from access_common.errors import BackendError
from access_streaming.connections import ConnectionSlots, Owner
from access_streaming.errors import ConnectionLimitExceeded


def _owner(user: str, tenant: str = "t1") -> Owner:
    return Owner(user, tenant, (), 0.0)


async def test_user_and_tenant_limits_and_release() -> None:
    slots = ConnectionSlots(MemoryKeyValue(), per_user=2, per_tenant=3, instance="pod")
    a1 = await slots.acquire(_owner("a"), "c1")
    await slots.acquire(_owner("a"), "c2")
    with pytest.raises(ConnectionLimitExceeded) as info:
        await slots.acquire(_owner("a"), "c3")
    assert info.value.details == {"scope": "user", "limit": 2}
    await slots.acquire(_owner("b"), "c4")
    with pytest.raises(ConnectionLimitExceeded) as info:
        await slots.acquire(_owner("c"), "c5")
    assert info.value.details == {"scope": "tenant", "limit": 3}
    await slots.acquire(_owner("c", "t2"), "c6")  # another tenant has its own budget
    await slots.release(a1)
    await slots.release(a1)  # idempotent
    await slots.acquire(_owner("c"), "c7")


class _BrokenKv(MemoryKeyValue):
    async def set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        raise BackendError("down")


async def test_store_down_falls_back_to_this_instance_counts() -> None:
    slots = ConnectionSlots(_BrokenKv(), per_user=1, per_tenant=5, instance="pod")
    lease = await slots.acquire(_owner("a"), "c1")
    assert slots.degraded
    with pytest.raises(ConnectionLimitExceeded):
        await slots.acquire(_owner("a"), "c2")
    await slots.release(lease)
    await slots.acquire(_owner("a"), "c3")
