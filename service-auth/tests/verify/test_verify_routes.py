"""POST /auth/verify and /auth/verify-ws over HTTP: principals, error model, bad bodies."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from access_auth.app import create_app
from access_auth.testing import CLIENT_ID, ISSUER, MakeSettings, claims, rsa_key, serve, sign
from access_auth.validation.claims import ClaimsPolicy, principal_from_claims
from access_auth.verify.schemas import VerifyResponse, principal_json
from access_common.http import HttpClient
from access_common.log import ACCESS_LOGGER

ERROR_KEYS = {"trace_id", "code", "message", "details"}
INVALID = 'Bearer realm="access", error="invalid_token"'


@pytest.fixture
async def client(make_settings: MakeSettings, http: HttpClient) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(make_settings(), http=http)) as c:
        yield c


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == code
    return body


async def test_verify_returns_the_principal(client: httpx.AsyncClient) -> None:
    payload = claims(sub="alice")
    token = sign(payload, rsa_key())
    response = await client.post("/auth/verify", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "sub": "alice",
        "tenant_id": "tenant-a",
        "roles": ["curves:read", "offline_access", "trader"],
        "scopes": ["openid", "profile", "email"],
        "exp": payload["exp"],
        "iss": ISSUER,
        "azp": CLIENT_ID,
        "claims": payload,
    }
    ws = await client.post("/auth/verify-ws", json={"token": token})
    assert ws.status_code == 200
    assert ws.json() == body
    lower = await client.post("/auth/verify", headers={"Authorization": f"bearer  {token} "})
    assert lower.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Bearer   "},
     {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Token abc.def.ghi"}],
)  # fmt: skip
async def test_missing_bearer_is_token_missing(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/auth/verify", headers=headers)
    error(response, 401, "TOKEN_MISSING")
    assert response.headers["www-authenticate"] == 'Bearer realm="access"'


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b"Bearer garbage", "TOKEN_MALFORMED"),
        (b"Bearer a.b.c", "TOKEN_MALFORMED"),
        (b"Bearer \xff\xfe\xfd.\x80.\x81", "TOKEN_MALFORMED"),
        (b"Bearer " + b"a" * 9000, "TOKEN_TOO_LARGE"),
        (b"Bearer " + sign(claims(exp=1), rsa_key()).encode(), "TOKEN_EXPIRED"),
        (b"Bearer " + sign(claims(), rsa_key("x")).encode(), "TOKEN_SIGNATURE_INVALID"),
        (b"Bearer " + sign(claims(), rsa_key(), kid="nope").encode(), "TOKEN_KEY_UNKNOWN"),
    ],
)
async def test_bad_tokens_in_the_header_are_401s(
    client: httpx.AsyncClient, value: bytes, code: str
) -> None:
    response = await client.post("/auth/verify", headers={b"authorization": value})
    error(response, 401, code)
    assert response.headers["www-authenticate"] == INVALID


async def _chunks() -> AsyncIterator[bytes]:
    yield b'{"token": "'
    for _ in range(100):
        yield b"a" * 1000
    yield b'"}'


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"not json"}, 400, "BAD_REQUEST"),
        ({"content": b""}, 400, "BAD_REQUEST"),
        ({"content": b"\xff\xfe\xfa\xfb"}, 400, "BAD_REQUEST"),
        ({"content": b'{"token": "\xff\xfe"}'}, 400, "BAD_REQUEST"),
        ({"content": b'{"token": "abc"'}, 400, "BAD_REQUEST"),
        ({"content": b"[" * 5000 + b"]" * 5000}, 400, "BAD_REQUEST"),
        ({"json": ["token"]}, 422, "VALIDATION_FAILED"),
        ({"json": "a.b.c"}, 422, "VALIDATION_FAILED"),
        ({"json": {}}, 422, "VALIDATION_FAILED"),
        ({"json": {"token": 12345}}, 422, "VALIDATION_FAILED"),
        ({"json": {"token": None}}, 422, "VALIDATION_FAILED"),
        ({"json": {"token": ["a.b.c"]}}, 422, "VALIDATION_FAILED"),
        ({"json": {"token": {"$ne": ""}}}, 422, "VALIDATION_FAILED"),
        ({"json": {"token": "x" * 100_000}}, 413, "PAYLOAD_TOO_LARGE"),
        ({"content": "chunked"}, 413, "PAYLOAD_TOO_LARGE"),  # no Content-Length
        ({"json": {"token": ""}}, 401, "TOKEN_MISSING"),
        ({"json": {"token": "garbage"}}, 401, "TOKEN_MALFORMED"),
        ({"json": {"token": "x" * 9000}}, 401, "TOKEN_TOO_LARGE"),
        ({"json": {"token": "é.é.é"}}, 401, "TOKEN_MALFORMED"),
    ],
)
async def test_bad_ws_bodies_never_500(
    client: httpx.AsyncClient, kwargs: dict[str, Any], status: int, code: str
) -> None:
    if kwargs.get("content") == "chunked":
        kwargs = {"content": _chunks()}
    body = error(await client.post("/auth/verify-ws", **kwargs), status, code)
    assert "x" * 100 not in str(body["details"])  # the input is never echoed


async def test_ws_body_ignores_extra_fields_and_content_type(client: httpx.AsyncClient) -> None:
    token = sign(claims(), rsa_key())
    response = await client.post(
        "/auth/verify-ws",
        content=f'{{"token": "{token}", "topic": "curves"}}'.encode(),
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 200


async def test_wrong_method_and_unknown_path_use_the_error_model(client: httpx.AsyncClient) -> None:
    error(await client.get("/auth/verify"), 405, "METHOD_NOT_ALLOWED")
    error(await client.post("/auth/verify/extra"), 404, "NOT_FOUND")


async def test_openapi_documents_the_responses(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    verify = spec["paths"]["/auth/verify"]["post"]
    assert {"200", "401", "503"} <= set(verify["responses"])
    assert verify["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "VerifyResponse"
    )
    assert any(p["name"] == "authorization" for p in verify["parameters"])
    ws = spec["paths"]["/auth/verify-ws"]["post"]
    assert {"200", "400", "401", "413", "422", "503"} <= set(ws["responses"])
    body_schema = ws["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["required"] == ["token"]
    assert "/auth/dev/token" not in spec["paths"]  # not local


def test_principal_json_is_the_response_model() -> None:
    principal = principal_from_claims(
        claims(), ClaimsPolicy(issuer=ISSUER, client_id=CLIENT_ID), time.time()
    )
    encoded = principal_json(principal)
    assert VerifyResponse.model_validate_json(encoded) == VerifyResponse.of(principal)
    assert set(orjson.loads(encoded)) == set(VerifyResponse.model_fields)


async def test_verify_keeps_ids_metrics_and_the_access_line(
    client: httpx.AsyncClient,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """/auth/verify is a DirectRoute: the middleware's work is the same as for any route."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    token = sign(claims(sub="alice"), rsa_key())
    parent = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    ok = await client.post(
        "/auth/verify",
        headers={
            "Authorization": f"Bearer {token}",
            "x-request-id": "rid-1",
            "traceparent": parent,
        },
    )
    refused = await client.post("/auth/verify")
    assert ok.status_code == 200 and ok.headers["x-request-id"] == "rid-1"
    assert ok.headers["traceparent"].startswith("00-" + "a" * 32 + "-")
    assert refused.status_code == 401 and refused.headers["x-request-id"]
    metrics = (await client.get("/metrics")).text
    assert 'http_requests_total{method="POST",route="/auth/verify",status="200"} 1.0' in metrics
    assert 'http_requests_total{method="POST",route="/auth/verify",status="401"} 1.0' in metrics
    await asyncio.sleep(0.2)  # the access lines are written in batches within 50 ms
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    access = [line for line in lines if line.get("route") == "/auth/verify"]
    assert [(line["req_id"], line["status"]) for line in access][:1] == [("rid-1", 200)]
    assert access[0]["trace_id"] == "a" * 32
    assert token not in capsys.readouterr().out
