from __future__ import annotations

import pytest

from access_auth.dev.__main__ import main
from access_auth.dev.issuer import DevIssuer
from access_auth.jwks.source import StaticKeySource
from access_auth.settings import DEFAULT_ALGORITHMS, AuthSettings
from access_auth.validation.claims import ClaimsPolicy
from access_auth.validation.verifier import TokenVerifier


async def test_prints_a_token_from_the_service_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["--sub", "bob", "--tenant", "tenant-b", "--roles", "analyst, trader", "--ttl", "60"])
        == 0
    )
    token = capsys.readouterr().out.strip()
    # The service (same state folder) trusts it.
    settings = AuthSettings()
    issuer = DevIssuer.from_settings(settings)
    verifier = TokenVerifier(
        primary=StaticKeySource(issuer.key_set()),
        policy=ClaimsPolicy(issuer=settings.dev_issuer, audiences=frozenset({"access-api"})),
        allowed=frozenset(DEFAULT_ALGORITHMS),
    )
    principal = await verifier.verify(token)
    assert (principal.sub, principal.tenant_id) == ("bob", "tenant-b")
    assert principal.roles == ("analyst", "trader")


def test_refuses_outside_local(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACCESS_ENV", "test")
    assert main([]) == 2
    assert "ACCESS_ENV=local" in capsys.readouterr().err


def test_refuses_bad_settings_and_bad_ttl(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--ttl", "0"]) == 2
    assert "--ttl" in capsys.readouterr().err
    monkeypatch.setenv("ACCESS_ENV", "production")
    assert main([]) == 2
    assert "ACCESS_JWKS_URL" in capsys.readouterr().err
