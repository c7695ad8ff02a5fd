"""An upgrade request refused as an HTTP answer in the error model (before any frame)."""

from __future__ import annotations

import orjson
from wsproto.events import RejectConnection, RejectData
from wsproto.handshake import H11Handshake

from access_common.errors import AccessError

__all__ = ["refusal"]


def refusal(handshake: H11Handshake, exc: AccessError, trace_id: str) -> bytes:
    """The HTTP response for ``exc``: its status, headers and ``{trace_id, code, …}`` body."""
    body = orjson.dumps(
        {"trace_id": trace_id, "code": exc.code, "message": exc.message,
         "details": exc.details or {}},
        default=str,
    )  # fmt: skip
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    headers += [(k.encode(), str(v).encode()) for k, v in (exc.headers or {}).items()]
    try:
        data = handshake.send(RejectConnection(exc.status, headers, has_body=True))
        return data + handshake.send(RejectData(body))
    except Exception:  # h11 refuses to answer a request it could not parse: just hang up
        return b""
