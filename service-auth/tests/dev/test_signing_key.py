from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from access_auth.dev.keys import DevKeyError, load_or_create_key
from access_auth.testing import ec_key, rsa_key


def _public(path: Path) -> bytes:
    return (
        load_or_create_key(path)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def test_made_on_first_use_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "auth" / "dev-signing-key.pem"
    first = _public(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert _public(path) == first
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    load_or_create_key(path)
    path.chmod(0o644)
    load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "auth" / "key.pem"
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(_public(path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1


def test_garbage_or_wrong_key_types_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    with pytest.raises(DevKeyError, match="not a PEM private key"):
        load_or_create_key(path)
    for key in (rsa_key(), ec_key("b", "P-384")):
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        with pytest.raises(DevKeyError, match="not an EC P-256 key"):
            load_or_create_key(path)
