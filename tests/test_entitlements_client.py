"""access_common's EntitlementsClient against the real entitlements app (over ASGI)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from access_common.clients import EntitlementsClient, Subject
from access_common.errors import DependencyUnavailable
from access_common.http import HttpClient
from access_entitlements.testing import POLICY_FILE, FakeAuth, Service, running

ALICE = Subject("alice", "tenant-a", ("trader",))


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[Service, FakeAuth]]:
    auth = FakeAuth()
    async with running(tmp_path, auth, policy_file=POLICY_FILE) as svc:
        yield svc, auth


@contextlib.asynccontextmanager
async def client_of(svc: Service) -> AsyncIterator[EntitlementsClient]:
    http = HttpClient(retries=0, transport=httpx.ASGITransport(svc.app))
    try:
        yield EntitlementsClient(http, "http://ent")
    finally:
        await http.aclose()


def checks_served(svc: Service) -> float:
    metrics = svc.app.state.metrics.registry
    total = 0.0
    for result in ("allow", "deny"):
        total += metrics.get_sample_value("entitlements_checks_total", {"result": result}) or 0
    return total


async def test_decisions_are_remembered_and_batches_split(
    service: tuple[Service, FakeAuth],
) -> None:
    svc, _ = service
    async with client_of(svc) as client:
        first = await client.check(ALICE, "read", "curve:NG_HH")
        assert first.allow and first.policy_version == 1 and first.rule_id
        assert await client.check(ALICE, "read", "curve:NG_HH") == first
        assert checks_served(svc) == 1
        items = [("subscribe", "topic:signals.normalized")] + [
            ("read", f"instrument:I{i}") for i in range(149)
        ]
        decisions = await client.check_batch(ALICE, [*items, ("write", "curve:NG_HH")])
        assert len(decisions) == 151
        assert all(d.allow for d in decisions[:150]) and not decisions[150].allow


async def test_a_rule_change_reaches_the_client_at_once(service: tuple[Service, FakeAuth]) -> None:
    svc, auth = service
    async with client_of(svc) as client:
        follower = asyncio.create_task(client.follow_policy_versions(wait=0.5))
        try:
            for _ in range(50):
                if client.following:
                    break
                await asyncio.sleep(0.02)
            assert client.following and client.policy_version("tenant-a") == 1
            assert (await client.check(ALICE, "read", "curve:NG_HH")).allow
            deny = {"subject": "user:alice", "action": "*", "resource": "curve:*", "effect": "deny"}
            headers = auth.headers("root", "tenant-a", ["admin"])
            written = await svc.http.post("/entitlements/rules", json=deny, headers=headers)
            assert written.status_code == 201
            for _ in range(50):
                if client.policy_version("tenant-a") == 2:
                    break
                await asyncio.sleep(0.01)
            assert client.policy_version("tenant-a") == 2
            # The cached allow is gone: the next check asks, and is denied.
            after = await client.check(ALICE, "read", "curve:NG_HH")
            assert (after.allow, after.policy_version) == (False, 2)
            # Other tenants keep their cached decisions.
            assert client.policy_version("tenant-1") == 1
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower


async def test_the_client_fails_closed() -> None:
    http = HttpClient(retries=0, timeout=0.5)
    client = EntitlementsClient(http, "http://127.0.0.1:9")
    try:
        with pytest.raises(DependencyUnavailable):
            await client.check(ALICE, "read", "curve:NG_HH")
        follower = asyncio.create_task(client.follow_policy_versions(wait=0.1))
        await asyncio.sleep(0.3)
        assert not client.following
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    finally:
        await http.aclose()
