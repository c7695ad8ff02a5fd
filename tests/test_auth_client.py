"""access_common's AuthClient against the real auth app (dev issuer), over an ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from access_auth.app import create_app
from access_auth.settings import AuthSettings
from access_common.clients import AuthClient
from access_common.context import TraceContext, set_request_context
from access_common.errors import DependencyUnavailable, Unauthorized
from access_common.http import HttpClient


@pytest.fixture
async def auth(tmp_path: Path) -> AsyncIterator[tuple[AuthClient, httpx.AsyncClient]]:
    app = create_app(AuthSettings(env="local", state_dir=tmp_path))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        http = HttpClient(transport=transport)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as raw:
            yield AuthClient(http, "http://auth"), raw
        await http.aclose()


async def _token(raw: httpx.AsyncClient) -> str:
    body = {"sub": "alice", "tenant_id": "tenant-a", "roles": ["trader"]}
    response = await raw.post("/auth/dev/token", json=body)
    return str(response.json()["access_token"])


async def test_verify_returns_the_principal(auth: tuple[AuthClient, httpx.AsyncClient]) -> None:
    client, raw = auth
    token = await _token(raw)
    principal = await client.verify(token)
    assert principal.sub == "alice"
    assert principal.tenant_id == "tenant-a"
    assert principal.roles == ("trader",)
    assert (await client.verify_ws(token)) == principal


async def test_refusals_keep_the_auth_code(auth: tuple[AuthClient, httpx.AsyncClient]) -> None:
    client, raw = auth
    set_request_context(TraceContext.new(), "req-client")
    with pytest.raises(Unauthorized) as info:
        await client.verify("not-a-token")
    assert info.value.code == "TOKEN_MALFORMED"
    assert "invalid_token" in info.value.headers["WWW-Authenticate"]
    token = await _token(raw)
    with pytest.raises(Unauthorized) as info:
        await client.verify(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    assert info.value.code == "TOKEN_SIGNATURE_INVALID"


async def test_auth_down_is_dependency_unavailable() -> None:
    http = HttpClient(timeout=0.5, retries=1, backoff=0)
    client = AuthClient(http, "http://127.0.0.1:9")
    with pytest.raises(DependencyUnavailable):
        await client.verify("x.y.z")
    await http.aclose()
