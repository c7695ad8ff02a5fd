"""EntitlementsClient: TTL cache, policy versions, batching, fail closed (transport swapped)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from access_common.clients import Decision, EntitlementsClient, Subject
from access_common.clients.entitlements import MAX_BATCH
from access_common.errors import DependencyUnavailable, Forbidden
from access_common.http import HttpClient

ALICE = Subject("alice", "tenant-a", ("trader",))


class FakeService:
    """Answers like the entitlements service: allow reads of ``curve:*``, deny the rest."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.version = 1
        self.ttl = 60
        self.status = 200

    def decide(self, action: str, resource: str) -> dict[str, Any]:
        allow = action == "read" and resource.startswith("curve:")
        return {
            "allow": allow,
            "ttl_seconds": self.ttl,
            "reason": "rule matched" if allow else "no matching rule",
            "rule_id": "r1" if allow else None,
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        self.calls.append((request.url.path, body))
        if self.status != 200:
            error = {"trace_id": "t", "code": "ENTITLEMENTS_UNAVAILABLE", "message": "down"}
            return httpx.Response(self.status, json={**error, "details": {}})
        if request.url.path.endswith("/check"):
            answer = self.decide(body["action"], body["resource"])
            return httpx.Response(200, json={**answer, "policy_version": self.version})
        decisions = [self.decide(c["action"], c["resource"]) for c in body["checks"]]
        return httpx.Response(200, json={"policy_version": self.version, "decisions": decisions})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(service: FakeService, clock: Clock) -> EntitlementsClient:
    http = HttpClient(transport=httpx.MockTransport(service), retries=0)
    return EntitlementsClient(http, "http://entitlements", clock=clock)


async def test_check_sends_the_subject_and_returns_the_decision(
    client: EntitlementsClient, service: FakeService
) -> None:
    decision = await client.check(ALICE, "read", "curve:NG")
    assert decision == Decision(
        allow=True, ttl_seconds=60, reason="rule matched", rule_id="r1", policy_version=1
    )
    path, body = service.calls[0]
    assert path == "/entitlements/check"
    assert body == {
        "user_id": "alice", "tenant_id": "tenant-a", "roles": ["trader"],
        "action": "read", "resource": "curve:NG",
    }  # fmt: skip


async def test_a_decision_is_remembered_for_its_ttl(
    client: EntitlementsClient, service: FakeService, clock: Clock
) -> None:
    await client.check(ALICE, "read", "curve:NG")
    await client.check(ALICE, "read", "curve:NG")
    assert len(service.calls) == 1
    clock.now += 61
    await client.check(ALICE, "read", "curve:NG")
    assert len(service.calls) == 2


async def test_roles_and_tenant_are_part_of_the_key(
    client: EntitlementsClient, service: FakeService
) -> None:
    await client.check(ALICE, "read", "curve:NG")
    await client.check(Subject("alice", "tenant-b", ("trader",)), "read", "curve:NG")
    await client.check(Subject("alice", "tenant-a", ("analyst",)), "read", "curve:NG")
    assert len(service.calls) == 3


async def test_a_newer_policy_version_kills_older_decisions(
    client: EntitlementsClient, service: FakeService
) -> None:
    await client.check(ALICE, "read", "curve:NG")
    client.observe_policy_version("tenant-a", 2)
    assert client.cached(ALICE, "read", "curve:NG") is None
    service.version = 2
    await client.check(ALICE, "read", "curve:NG")
    assert len(service.calls) == 2
    assert client.policy_version("tenant-a") == 2


async def test_another_tenants_version_leaves_decisions_alone(client: EntitlementsClient) -> None:
    await client.check(ALICE, "read", "curve:NG")
    client.observe_policy_version("tenant-b", 9)
    assert client.cached(ALICE, "read", "curve:NG") is not None


async def test_batch_asks_only_for_what_is_not_remembered(
    client: EntitlementsClient, service: FakeService
) -> None:
    await client.check(ALICE, "read", "curve:NG")
    items = [("read", "curve:NG"), ("read", "curve:BRENT"), ("write", "curve:NG")]
    decisions = await client.check_batch(ALICE, items)
    assert [d.allow for d in decisions] == [True, True, False]
    path, body = service.calls[-1]
    assert path == "/entitlements/check-batch"
    assert body["checks"] == [
        {"action": "read", "resource": "curve:BRENT"},
        {"action": "write", "resource": "curve:NG"},
    ]
    assert all(d.policy_version == 1 for d in decisions)


async def test_batch_is_split_at_the_service_limit(
    client: EntitlementsClient, service: FakeService
) -> None:
    items = [("read", f"curve:C{i}") for i in range(MAX_BATCH + 5)]
    decisions = await client.check_batch(ALICE, items)
    assert len(decisions) == MAX_BATCH + 5
    assert [len(body["checks"]) for _, body in service.calls] == [MAX_BATCH, 5]


async def test_zero_ttl_is_not_remembered(client: EntitlementsClient, service: FakeService) -> None:
    service.ttl = 0
    await client.check(ALICE, "read", "curve:NG")
    await client.check(ALICE, "read", "curve:NG")
    assert len(service.calls) == 2


async def test_service_errors_fail_closed(client: EntitlementsClient, service: FakeService) -> None:
    service.status = 503
    with pytest.raises(DependencyUnavailable) as raised:
        await client.check(ALICE, "read", "curve:NG")
    assert raised.value.code == "ENTITLEMENTS_UNAVAILABLE"
    with pytest.raises(DependencyUnavailable):
        await client.check_batch(ALICE, [("read", "curve:NG")])


async def test_peer_4xx_codes_are_kept(client: EntitlementsClient, service: FakeService) -> None:
    service.status = 403
    with pytest.raises(Forbidden):
        await client.check(ALICE, "read", "curve:NG")


async def test_unreadable_answers_fail_closed() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json={"allow": "maybe"}))
    client = EntitlementsClient(HttpClient(transport=transport, retries=0), "http://e")
    with pytest.raises(DependencyUnavailable):
        await client.check(ALICE, "read", "curve:NG")
    with pytest.raises(DependencyUnavailable):
        await client.check_batch(ALICE, [("read", "curve:NG")])


async def test_transport_failure_fails_closed() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = EntitlementsClient(
        HttpClient(transport=httpx.MockTransport(refuse), retries=0), "http://e"
    )
    with pytest.raises(DependencyUnavailable):
        await client.check(ALICE, "read", "curve:NG")


async def test_the_cache_is_bounded(service: FakeService) -> None:
    http = HttpClient(transport=httpx.MockTransport(service), retries=0)
    client = EntitlementsClient(http, "http://e", max_entries=2)
    for name in ("a", "b", "c"):
        await client.check(ALICE, "read", f"curve:{name}")
    assert client.cached(ALICE, "read", "curve:a") is None
    assert client.cached(ALICE, "read", "curve:c") is not None
