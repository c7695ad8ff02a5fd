from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from access_common.clients import AuthClient
from access_common.errors import Unauthorized
from access_common.http import HttpClient
from access_streaming.auth import PrincipalCache


def _principal(exp: float) -> dict[str, object]:
    return {"sub": "alice", "tenant_id": "t", "roles": ["analyst"], "scopes": [],
            "exp": int(exp), "iss": None, "claims": {}}  # fmt: skip


async def test_one_call_per_token_shared_by_concurrent_connects() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        if b"bad" in request.content:
            return httpx.Response(401, json={"code": "TOKEN_MALFORMED", "message": "no"})
        return httpx.Response(200, json=_principal(time.time() + 60))

    http = HttpClient(transport=httpx.MockTransport(handler))
    cache = PrincipalCache(AuthClient(http, "http://auth"))
    results = await asyncio.gather(*(cache.verify("good") for _ in range(20)))
    assert {r.sub for r in results} == {"alice"}
    assert calls == 1
    await cache.verify("good")
    assert calls == 1
    for _ in range(2):
        with pytest.raises(Unauthorized):
            await cache.verify("bad")
    assert calls == 3  # refusals are never remembered
    await http.aclose()


async def test_expired_principal_is_verified_again() -> None:
    now = [1000.0]
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, json=_principal(1010))

    http = HttpClient(transport=httpx.MockTransport(handler))
    cache = PrincipalCache(AuthClient(http, "http://auth"), clock=lambda: now[0])
    await cache.verify("t")
    await cache.verify("t")
    now[0] = 1011
    await cache.verify("t")
    assert calls == 2
    await http.aclose()
