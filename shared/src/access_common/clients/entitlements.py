"""Client of the entitlements service: ``POST /entitlements/check`` and ``/check-batch``.

Decisions are kept in-process for the ``ttl_seconds`` the service gives them, so a hot
user costs no round trip. Each decision carries the tenant's policy version; once a newer
version of a tenant is seen (in any answer, or told through
:meth:`EntitlementsClient.observe_policy_version`), every decision made under an older
one is dropped, never served again. Errors fail closed: they raise, never allow.

To learn a rule change at once rather than after the TTL, run
:meth:`EntitlementsClient.follow_policy_versions` as a background task: it long-polls
``GET /entitlements/policy-versions`` and observes every tenant's new version the moment
the service knows it. Each check also sends the newest version the client has seen as
``min_policy_version``, so a replica that has not heard of it yet reads it from its
store first (a consistency token, like SpiceDB's zookies): a decision older than what
the client already knows is never made.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from access_common.clients._errors import raise_for_peer_error
from access_common.errors import AccessError, DependencyUnavailable
from access_common.http import HttpClient

__all__ = ["MAX_BATCH", "Decision", "EntitlementsClient", "Subject"]

logger = logging.getLogger("access_common.clients.entitlements")

_FOLLOW_RETRY_MIN = 0.2
_FOLLOW_RETRY_MAX = 5.0

# The service refuses larger batches (BATCH_TOO_LARGE); the client splits for its callers.
MAX_BATCH = 100


@dataclass(frozen=True, slots=True)
class Subject:
    """Who asks: the verified principal's user, tenant and roles."""

    user_id: str
    tenant_id: str
    roles: tuple[str, ...] = ()


class Decision(BaseModel):
    """One allow/deny answer, as the service gave it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    allow: bool
    ttl_seconds: int
    reason: str
    rule_id: str | None = None
    policy_version: int


class _BatchItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    allow: bool
    ttl_seconds: int
    reason: str
    rule_id: str | None = None


class _BatchAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    policy_version: int
    decisions: list[_BatchItem]


class _VersionChanges(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    cursor: str
    full: bool
    versions: dict[str, int]


_Key = tuple[str, str, tuple[str, ...], str, str]


class EntitlementsClient:
    """Ask the entitlements service for decisions; remember them for their TTL."""

    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        base = base_url.rstrip("/")
        self._check_url = base + "/entitlements/check"
        self._batch_url = base + "/entitlements/check-batch"
        self._versions_url = base + "/entitlements/policy-versions"
        self.following = False
        self._max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[_Key, tuple[float, Decision]] = OrderedDict()
        self._versions: dict[str, int] = {}

    @staticmethod
    def _key(subject: Subject, action: str, resource: str) -> _Key:
        return (subject.tenant_id, subject.user_id, tuple(sorted(subject.roles)), action, resource)

    def observe_policy_version(self, tenant_id: str, version: int) -> None:
        """Note a tenant's policy version; decisions made under older ones are dead."""
        if version > self._versions.get(tenant_id, -1):
            self._versions[tenant_id] = version

    def policy_version(self, tenant_id: str) -> int | None:
        """The newest policy version seen for a tenant, if any."""
        return self._versions.get(tenant_id)

    def cached(self, subject: Subject, action: str, resource: str) -> Decision | None:
        """The remembered decision when still fresh and of the tenant's current version."""
        key = self._key(subject, action, resource)
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires_at, decision = entry
        if expires_at <= self._clock() or decision.policy_version < self._versions.get(
            subject.tenant_id, -1
        ):
            del self._cache[key]
            return None
        return decision

    def forget(self, tenant_id: str | None = None) -> None:
        """Drop remembered decisions (of one tenant, or all)."""
        if tenant_id is None:
            self._cache.clear()
            return
        for key in [k for k in self._cache if k[0] == tenant_id]:
            del self._cache[key]

    def _remember(self, key: _Key, decision: Decision) -> None:
        self.observe_policy_version(key[0], decision.policy_version)
        if decision.ttl_seconds <= 0:
            return
        self._cache[key] = (self._clock() + decision.ttl_seconds, decision)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    async def check(self, subject: Subject, action: str, resource: str) -> Decision:
        """Decide one action on one resource; a remembered decision costs no call."""
        hit = self.cached(subject, action, resource)
        if hit is not None:
            return hit
        body = {
            "user_id": subject.user_id,
            "tenant_id": subject.tenant_id,
            "roles": list(subject.roles),
            "action": action,
            "resource": resource,
            "min_policy_version": self._versions.get(subject.tenant_id, 0),
        }
        response = await self._post(self._check_url, body)
        try:
            decision = Decision.model_validate_json(response.content)
        except ValidationError:
            raise self._unreadable(response) from None
        self._remember(self._key(subject, action, resource), decision)
        return decision

    async def check_batch(
        self, subject: Subject, items: Sequence[tuple[str, str]]
    ) -> list[Decision]:
        """Decide many (action, resource) pairs for one subject, in order, in few calls."""
        results: list[Decision | None] = [self.cached(subject, a, r) for a, r in items]
        missing = [i for i, hit in enumerate(results) if hit is None]
        for start in range(0, len(missing), MAX_BATCH):
            chunk = missing[start : start + MAX_BATCH]
            body = {
                "user_id": subject.user_id,
                "tenant_id": subject.tenant_id,
                "roles": list(subject.roles),
                "checks": [{"action": items[i][0], "resource": items[i][1]} for i in chunk],
                "min_policy_version": self._versions.get(subject.tenant_id, 0),
            }
            response = await self._post(self._batch_url, body)
            try:
                answer = _BatchAnswer.model_validate_json(response.content)
            except ValidationError:
                raise self._unreadable(response) from None
            if len(answer.decisions) != len(chunk):
                raise self._unreadable(response)
            for index, item in zip(chunk, answer.decisions, strict=True):
                decision = Decision(**item.model_dump(), policy_version=answer.policy_version)
                self._remember(self._key(subject, *items[index]), decision)
                results[index] = decision
        return [d for d in results if d is not None]

    async def follow_policy_versions(self, *, wait: float = 5.0) -> None:
        """Observe every tenant's new policy version as soon as the service has it.

        Runs until cancelled (start it with ``asyncio.create_task``). ``wait`` is how long
        one poll waits for a change (each poll's own timeout is ``wait`` + 5 s, so it need
        not fit under the client's default timeout: a short ``wait`` only adds polls, and
        a change is answered at once either way; a long one holds the service's graceful
        shutdown that long). While the
        service cannot be reached, ``following`` is False, cached decisions live out
        their TTL (at most 120 s) and polls are retried with a backoff.
        """
        cursor: str | None = None
        delay = _FOLLOW_RETRY_MIN
        url = f"{self._versions_url}?wait={wait:g}"
        while True:
            try:
                target = url if cursor is None else f"{url}&cursor={cursor}"
                response = await self._http.request("GET", target, timeout=wait + 5)
                raise_for_peer_error(response, "entitlements")
                answer = _VersionChanges.model_validate_json(response.content)
            except (AccessError, ValidationError):
                if self.following:
                    logger.warning("lost the entitlements policy-version feed; retrying")
                self.following = False
                cursor = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, _FOLLOW_RETRY_MAX)
                continue
            delay = _FOLLOW_RETRY_MIN
            for tenant_id, version in answer.versions.items():
                self.observe_policy_version(tenant_id, version)
            cursor = answer.cursor
            self.following = True

    async def _post(self, url: str, body: object) -> httpx.Response:
        # Checks change nothing, so a transport failure may be retried.
        response = await self._http.request(
            "POST", url, content=orjson.dumps(body),
            headers={"content-type": "application/json"}, idempotent=True,
        )  # fmt: skip
        raise_for_peer_error(response, "entitlements")
        return response

    @staticmethod
    def _unreadable(response: httpx.Response) -> DependencyUnavailable:
        return DependencyUnavailable(
            "entitlements answered an unreadable decision",
            details={"peer": "entitlements", "status": response.status_code},
        )
