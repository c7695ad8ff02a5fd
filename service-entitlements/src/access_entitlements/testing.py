"""Test helpers: a fake auth service, an entitlements app started on chosen backends."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from access_common.backends import KeyValue, Store
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.backends.sqlite_store import SqliteStore
from access_common.clients import AuthClient
from access_common.http import HttpClient
from access_common.lifecycle import Resources
from access_entitlements.app import create_app
from access_entitlements.runtime import EntitlementsRuntime
from access_entitlements.settings import EntitlementsSettings

__all__ = ["POLICY_FILE", "FakeAuth", "Service", "running", "unique_tenant"]

POLICY_FILE = Path(__file__).resolve().parents[2] / "policy" / "local.yaml"


def unique_tenant(name: str = "t") -> str:
    """A tenant id no other test (or developer) uses, so shared Redis keys never clash."""
    return f"{name}-{uuid.uuid4().hex[:10]}"


@dataclass
class FakeAuth:
    """The auth service's /auth/verify over MockTransport: tokens it minted verify."""

    principals: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: int = 0
    down: bool = False

    def token(self, sub: str, tenant_id: str | None, roles: list[str]) -> str:
        """A token that verifies as this principal."""
        token = secrets.token_urlsafe(16)
        self.principals[token] = {
            "sub": sub, "tenant_id": tenant_id, "roles": sorted(roles), "scopes": [],
            "exp": 2_000_000_000, "iss": "fake", "claims": {"sub": sub},
        }  # fmt: skip
        return token

    def headers(self, sub: str, tenant_id: str | None, roles: list[str]) -> dict[str, str]:
        """An Authorization header with a fresh token."""
        return {"authorization": f"Bearer {self.token(sub, tenant_id, roles)}"}

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer like the auth service."""
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("auth is down")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        principal = self.principals.get(token)
        if principal is None:
            body = {"trace_id": "t", "code": "TOKEN_MALFORMED", "message": "bad", "details": {}}
            return httpx.Response(401, json=body)
        return httpx.Response(200, json=principal)

    def client(self) -> AuthClient:
        """An AuthClient that talks to this fake."""
        http = HttpClient(retries=0, transport=httpx.MockTransport(self.handler))
        return AuthClient(http, "http://auth")


@dataclass
class Service:
    """A running entitlements app and a client of it."""

    app: FastAPI
    http: httpx.AsyncClient

    @property
    def runtime(self) -> EntitlementsRuntime:
        """The app's runtime."""
        runtime: EntitlementsRuntime = self.app.state.entitlements
        return runtime

    async def check(self, **body: Any) -> httpx.Response:
        """POST /entitlements/check."""
        return await self.http.post("/entitlements/check", json=body)


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path,
    auth: FakeAuth,
    *,
    store: Store | None = None,
    kv: KeyValue | None = None,
    policy_file: Path | None = None,
    **settings: Any,
) -> AsyncIterator[Service]:
    """Start an entitlements app (SQLite and in-process KV unless given) and yield it."""
    values: dict[str, Any] = {"env": "test", "state_dir": tmp_path}
    values.update(settings)
    config = EntitlementsSettings(entitlements_policy_file=policy_file, **values)
    resources = Resources(
        http=HttpClient(retries=0),
        kv=kv or MemoryKeyValue(),
        store=store or SqliteStore(tmp_path / f"ent-{uuid.uuid4().hex[:8]}.sqlite3"),
    )
    app = create_app(config, resources=resources, auth=auth.client())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ent") as http:
            yield Service(app, http)
