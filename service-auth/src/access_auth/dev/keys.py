"""The dev issuer's signing key: an EC P-256 key made on first use, kept 0600 on disk.

Creation is atomic and exclusive (write a temporary file, then hard-link it into place),
so the service and the CLI starting at the same moment end up with one key.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["DevKeyError", "load_or_create_key"]

logger = logging.getLogger("access_auth.dev")

_PRIVATE = 0o600


class DevKeyError(RuntimeError):
    """The key file exists but cannot be used."""


def _load(path: Path) -> ec.EllipticCurvePrivateKey:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        logger.warning("dev signing key was readable by others; fixing its mode to 0600")
        path.chmod(_PRIVATE)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError:
        raise DevKeyError(f"{path} is not a PEM private key; delete it to make a new one") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise DevKeyError(f"{path} is not an EC P-256 key; delete it to make a new one")
    return key


def _create(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(tmp, path)  # fails when another process won the race: keep theirs
        except FileExistsError:
            return
        logger.info("dev signing key created", extra={"path": str(path)})
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The key at path, made (0600, in a 0700 folder) when it does not exist yet."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _create(path)
    return _load(path)
