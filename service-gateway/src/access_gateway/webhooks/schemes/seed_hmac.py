"""Seed 004's scheme: ``X-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.

``X-Timestamp`` (ISO 8601 with an offset) must lie within the replay window and
``X-Nonce`` must be new (checked against the key-value store by the service). Several
secrets may be configured during a rotation; every one is tried with a constant-time
comparison. Seed 004 signs the body only, so timestamp and nonce are not bound to the
signature: docs/webhooks.md says what that allows and what limits it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from access_gateway.webhooks.errors import InvalidSignature, ReplayRejected
from access_gateway.webhooks.schemes.base import Verified, check_window

__all__ = ["HmacScheme", "parse_iso_timestamp"]

_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
_NONCE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def parse_iso_timestamp(value: str) -> datetime | None:
    """An ISO 8601 timestamp with an offset (``Z`` included); None when not one."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class HmacScheme:
    """Verify seed 004's HMAC headers against one or more secrets."""

    name = "hmac"

    def __init__(
        self, secrets: Sequence[bytes], *, window_seconds: int, clock: Callable[[], float]
    ):
        self._secrets = tuple(secrets)
        self._window = window_seconds
        self._clock = clock

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Verified:
        """Check signature, then timestamp; return the nonce for the reuse check."""
        signature = headers.get("x-signature")
        timestamp = headers.get("x-timestamp")
        nonce = headers.get("x-nonce")
        missing = [
            name
            for name, value in (
                ("X-Signature", signature),
                ("X-Timestamp", timestamp),
                ("X-Nonce", nonce),
            )
            if not value
        ]
        if missing or signature is None or timestamp is None or nonce is None:
            raise InvalidSignature(
                "Missing signature headers", details={"reason": "missing", "missing": missing}
            )
        match = _SIGNATURE.match(signature.strip())
        if match is None:
            raise InvalidSignature(
                "X-Signature must be sha256=<64 hex digits>", details={"reason": "malformed"}
            )
        if not self._secrets:
            raise InvalidSignature(details={"reason": "no_secret_configured"})
        given = bytes.fromhex(match.group(1))
        matched = False
        for secret in self._secrets:
            # Every secret is tried (no early exit): timing says nothing about which matched.
            expected = hmac.new(secret, body, hashlib.sha256).digest()
            matched |= hmac.compare_digest(expected, given)
        if not matched:
            raise InvalidSignature(details={"reason": "mismatch"})
        sent = parse_iso_timestamp(timestamp)
        if sent is None:
            raise ReplayRejected(
                "X-Timestamp must be ISO 8601 with an offset, e.g. 2025-01-01T12:00:00Z",
                details={"reason": "timestamp_invalid"},
            )
        check_window("X-Timestamp", sent.timestamp(), self._clock, self._window)
        if not _NONCE.match(nonce):
            raise ReplayRejected(
                "X-Nonce must be 8-128 characters of [A-Za-z0-9._:-]",
                details={"reason": "nonce_invalid"},
            )
        return Verified(scheme=self.name, raw=body, nonce=nonce)
