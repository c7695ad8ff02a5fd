"""Test helpers: generated keys, JWKs, signed tokens and a fake JWKS endpoint.

Used by service-auth's tests and the Keycloak interop tests; nothing here runs in the
service itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from access_auth.settings import AuthSettings

__all__ = [
    "AUDIENCE",
    "CLIENT_ID",
    "ISSUER",
    "JWKS_URL",
    "FakeClock",
    "FakeJwks",
    "MakeSettings",
    "PrivateKey",
    "claims",
    "ec_key",
    "ed25519_key",
    "jwk_of",
    "rsa_key",
    "serve",
    "sign",
]

ISSUER = "https://keycloak.test/realms/access"
JWKS_URL = "https://keycloak.test/realms/access/protocol/openid-connect/certs"
AUDIENCE = "access-api"
CLIENT_ID = "access-gateway"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@cache
def rsa_key(name: str = "a", bits: int = 2048) -> rsa.RSAPrivateKey:
    """An RSA key, generated once per name and size for the whole test run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def ec_key(name: str = "a", curve: str = "P-256") -> ec.EllipticCurvePrivateKey:
    """An EC key on P-256 or P-384, generated once per name."""
    curves: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}
    return ec.generate_private_key(curves[curve])


@cache
def ed25519_key(name: str = "a") -> ed25519.Ed25519PrivateKey:
    """An Ed25519 key, generated once per name."""
    return ed25519.Ed25519PrivateKey.generate()


def jwk_of(
    key: PrivateKey, kid: str | None, *, alg: str | None = None, use: str | None = "sig"
) -> dict[str, Any]:
    """The public JWK of a private key, as Keycloak publishes it."""
    public: Any = key.public_key()
    jwk: dict[str, Any]
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    if kid is not None:
        jwk["kid"] = kid
    if alg is not None:
        jwk["alg"] = alg
    if use is not None:
        jwk["use"] = use
    return jwk


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid Keycloak-shaped access-token claims; ``None`` values remove a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": [AUDIENCE, "account"],
        "azp": CLIENT_ID,
        "typ": "Bearer",
        "iat": now,
        "exp": now + 300,
        "tenant_id": "tenant-a",
        "realm_access": {"roles": ["trader", "offline_access"]},
        "resource_access": {
            CLIENT_ID: {"roles": ["curves:read"]},
            "account": {"roles": ["manage-account"]},
        },
        "scope": "openid profile email",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    payload: Mapping[str, Any],
    key: PrivateKey | bytes | str,
    alg: str = "RS256",
    *,
    kid: str | None = "k1",
    headers: Mapping[str, Any] | None = None,
) -> str:
    """Sign payload as a compact JWS with kid and any extra header fields."""
    header: dict[str, Any] = dict(headers or {})
    if kid is not None:
        header.setdefault("kid", kid)
    return jwt.encode(dict(payload), key, algorithm=alg, headers=header)


@dataclass
class FakeJwks:
    """A JWKS endpoint for ``httpx.MockTransport``: serves ``keys``, counts every call.

    Set ``status`` to answer an error, ``fail`` to an httpx transport error class to raise
    it (``httpx.ConnectError``, ``httpx.ReadTimeout``), ``delay`` to make each answer slow
    (single-flight tests), ``body`` to serve raw bytes.
    """

    keys: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    fail: type[httpx.TransportError] | None = None
    delay: float = 0.0
    body: bytes | None = None
    calls: int = 0
    urls: list[str] = field(default_factory=list)

    async def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        self.calls += 1
        self.urls.append(str(request.url))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail("simulated outage", request=request)
        if self.body is not None:
            return httpx.Response(self.status, content=self.body)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": "unavailable"})
        return httpx.Response(200, json={"keys": self.keys})

    def transport(self) -> httpx.MockTransport:
        """A transport that routes every request to this endpoint."""
        return httpx.MockTransport(self.handler)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        """The current time."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


class MakeSettings(Protocol):
    """The ``make_settings`` fixture: AuthSettings for a JWKS deployment, with overrides."""

    def __call__(self, **overrides: Any) -> AuthSettings:
        """Build the settings."""
        ...


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield a client that calls it in process."""
    from asgi_lifespan import LifespanManager  # noqa: PLC0415 - a dev dependency, tests only

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            yield client
