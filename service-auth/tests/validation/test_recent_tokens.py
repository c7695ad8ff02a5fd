"""Recently verified tokens: a repeat skips the signature, but never outlives its key or exp."""

from __future__ import annotations

import time

import pytest

from access_auth.errors import TokenError
from access_auth.jwks.cache import JwksCache
from access_auth.jwks.fallback import FallbackKeys
from access_auth.jwks.keys import KeySet
from access_auth.settings import DEFAULT_ALGORITHMS
from access_auth.testing import FakeJwks, claims, rsa_key, sign
from access_auth.validation.claims import ClaimsPolicy
from access_auth.validation.verifier import TokenVerifier

ALLOWED = frozenset(DEFAULT_ALGORITHMS)
SECRET = b"an-operator-fallback-secret-of-40-bytes!!"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count signature checks made by every verifier."""
    calls: list[str] = []
    original = TokenVerifier._check_signature

    def check(token: str, key: object, alg: str) -> dict[str, object]:
        calls.append(token)
        return original(token, key, alg)  # type: ignore[arg-type]

    monkeypatch.setattr(TokenVerifier, "_check_signature", staticmethod(check))
    return calls


async def code_of(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenError) as info:
        await verifier.verify(token)
    return info.value.code


@pytest.fixture
async def loaded(cache: JwksCache) -> JwksCache:
    assert await cache.refresh()
    return cache


def make(cache: JwksCache, policy: ClaimsPolicy, clock: Clock, **kw: object) -> TokenVerifier:
    return TokenVerifier(primary=cache, policy=policy, allowed=ALLOWED, clock=clock, **kw)  # type: ignore[arg-type]


async def test_a_repeat_skips_the_signature_check(
    loaded: JwksCache, policy: ClaimsPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(monkeypatch)
    verifier = make(loaded, policy, Clock())
    token = sign(claims(), rsa_key())
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert len(calls) == 1
    # A different token (even one character) is verified in full.
    assert await code_of(verifier, token[:-2] + "AA") == "TOKEN_SIGNATURE_INVALID"
    assert len(calls) == 2


async def test_size_zero_turns_it_off(
    loaded: JwksCache, policy: ClaimsPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(monkeypatch)
    verifier = make(loaded, policy, Clock(), recent_size=0)
    token = sign(claims(), rsa_key())
    await verifier.verify(token)
    await verifier.verify(token)
    assert len(calls) == 2


async def test_a_remembered_token_still_expires(loaded: JwksCache, policy: ClaimsPolicy) -> None:
    clock = Clock()
    verifier = make(loaded, policy, clock)
    token = sign(claims(exp=int(clock.now) + 60), rsa_key())
    await verifier.verify(token)
    clock.now += 60 + policy.leeway + 1
    assert await code_of(verifier, token) == "TOKEN_EXPIRED"


async def test_a_removed_key_drops_its_tokens(
    loaded: JwksCache, policy: ClaimsPolicy, jwks: FakeJwks
) -> None:
    verifier = make(loaded, policy, Clock())
    token = sign(claims(), rsa_key())
    await verifier.verify(token)
    jwks.keys = [k for k in jwks.keys if k.get("kid") != "k1"]
    assert await loaded.refresh()
    assert await code_of(verifier, token) == "TOKEN_KEY_UNKNOWN"


async def test_a_refresh_that_keeps_the_key_verifies_again_in_full(
    loaded: JwksCache, policy: ClaimsPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(monkeypatch)
    verifier = make(loaded, policy, Clock())
    token = sign(claims(), rsa_key())
    await verifier.verify(token)
    assert await loaded.refresh()
    assert (await verifier.verify(token)).sub == "user-1"
    assert len(calls) == 2


async def test_fallback_verified_tokens_are_never_remembered(
    loaded: JwksCache, policy: ClaimsPolicy, jwks: FakeJwks
) -> None:
    fallback = FallbackKeys.from_secret(SECRET, KeySet())
    verifier = make(loaded, policy, Clock(), fallback=fallback)
    jwks.status = 502
    assert not await loaded.refresh()
    token = sign(claims(), SECRET, "HS256", kid=None)
    assert (await verifier.verify(token)).sub == "user-1"
    jwks.status = 200
    assert await loaded.refresh()
    assert await code_of(verifier, token) == "TOKEN_ALGORITHM_NOT_ALLOWED"
