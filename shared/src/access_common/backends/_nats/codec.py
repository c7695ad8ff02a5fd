"""How bus keys, headers, names and driver errors are spelled for NATS JetStream."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import re
from collections.abc import Mapping

import nats.errors

from access_common.errors import BackendError

__all__ = [
    "ACK",
    "DRIVER_ERRORS",
    "INVALID_NAME",
    "KEY_B64_HEADER",
    "KEY_HEADER",
    "NAK",
    "ack_fields",
    "check_topic",
    "decode_headers",
    "durable_name",
    "encode_headers",
    "error",
]

logger = logging.getLogger("access_common.bus.nats")

KEY_HEADER = "Access-Key"
KEY_B64_HEADER = "Access-Key-B64"

ACK = b"+ACK"
NAK = b"-NAK"
INVALID_NAME = re.compile(r"[^A-Za-z0-9_-]")

_DETAILS = {"backend": "nats"}
_INVALID_TOPIC = re.compile(r"[\s*>]")

DRIVER_ERRORS = (nats.errors.Error, OSError, asyncio.TimeoutError)


def error(action: str, exc: BaseException | None = None) -> BackendError:
    """The BackendError for a failed ``action``, naming only the exception's type."""
    reason = f": {type(exc).__name__}" if exc is not None else ""
    return BackendError(f"NATS {action} failed{reason}", details=dict(_DETAILS))


def check_topic(topic: str) -> None:
    """Raise ValueError unless ``topic`` is a plain subject (dot-separated, no wildcards)."""
    if not topic or _INVALID_TOPIC.search(topic) or "" in topic.split("."):
        raise ValueError(f"invalid topic {topic!r}: dot-separated tokens, no wildcards")


def durable_name(group: str, topic: str) -> str:
    """The durable consumer name a group shares for one topic."""
    digest = hashlib.blake2b(f"{group}\0{topic}".encode(), digest_size=4).hexdigest()
    safe_group = INVALID_NAME.sub("_", group)[:100]
    safe_topic = INVALID_NAME.sub("_", topic)[:100]
    return f"{safe_group}-{safe_topic}-{digest}"


def ack_fields(reply: str) -> tuple[int, int, int]:
    """(stream sequence, consumer sequence, timestamp ns) from a JetStream reply subject."""
    tokens = reply.split(".")
    # v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
    # v2: $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>...
    first = 5 if len(tokens) == 9 else 7
    return int(tokens[first]), int(tokens[first + 1]), int(tokens[first + 2])


def encode_headers(key: bytes | None, headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """NATS headers carrying ``headers`` and the message key."""
    if key is None:
        return dict(headers) if headers else None
    out = dict(headers) if headers else {}
    try:
        text = key.decode()
    except UnicodeDecodeError:
        text = None
    if text is not None and text == text.strip() and "\r" not in text and "\n" not in text:
        out[KEY_HEADER] = text
    else:
        out[KEY_B64_HEADER] = base64.b64encode(key).decode("ascii")
    return out


def decode_headers(raw: dict[str, str] | None) -> tuple[bytes | None, dict[str, str]]:
    """The message key and the headers a subscriber sees (without the key headers)."""
    if not raw:
        return None, {}
    if KEY_HEADER not in raw and KEY_B64_HEADER not in raw:
        return None, raw
    headers = dict(raw)
    text = headers.pop(KEY_HEADER, None)
    encoded = headers.pop(KEY_B64_HEADER, None)
    if encoded is not None:
        try:
            return base64.b64decode(encoded, validate=True), headers
        except (binascii.Error, ValueError):
            logger.warning("dropping an undecodable %s header", KEY_B64_HEADER)
            return None, headers
    return (text.encode() if text is not None else None), headers
