from __future__ import annotations

import json
from pathlib import Path

import pytest

from access_auth.jwks.fallback import FallbackError, FallbackKeys
from access_auth.testing import MakeSettings, ec_key, jwk_of

SECRET = "fallback-secret-of-at-least-32-bytes!"


def test_disabled_fallback_loads_nothing(make_settings: MakeSettings) -> None:
    assert FallbackKeys.from_settings(make_settings(jwt_secret_key=SECRET)) is None


def test_secret_fallback(make_settings: MakeSettings) -> None:
    fallback = FallbackKeys.from_settings(
        make_settings(jwks_fallback_enabled=True, jwt_secret_key=SECRET)
    )
    assert fallback is not None and fallback.secret is not None
    assert fallback.lookup(None, "HS256") is fallback.secret
    assert fallback.lookup("anything", "HS256") is fallback.secret
    assert fallback.lookup(None, "ES256") is None
    assert SECRET not in repr(fallback.secret)


def test_file_fallback(make_settings: MakeSettings, tmp_path: Path) -> None:
    path = tmp_path / "fallback.json"
    path.write_text(json.dumps({"keys": [jwk_of(ec_key("fb"), "fb1")]}))
    fallback = FallbackKeys.from_settings(
        make_settings(jwks_fallback_enabled=True, jwks_fallback_file=path)
    )
    assert fallback is not None and fallback.secret is None
    key = fallback.lookup("fb1", "ES256")
    assert key is not None and key.source == "fallback-file"
    assert fallback.lookup(None, "HS256") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("not json", "not JSON"),
        ('{"nokeys": 1}', "not a JWKS"),
        ('{"keys": [{"kty": "oct", "k": "AAAA"}]}', "no usable key"),
    ],
)
def test_unusable_fallback_file_fails_start_up(
    make_settings: MakeSettings, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "fallback.json"
    if content is not None:
        path.write_text(content)
    settings = make_settings(jwks_fallback_enabled=True, jwks_fallback_file=path)
    with pytest.raises(FallbackError, match=message):
        FallbackKeys.from_settings(settings)


def test_short_secret_is_refused() -> None:
    with pytest.raises(FallbackError, match="32 bytes"):
        FallbackKeys.from_secret(b"short")
