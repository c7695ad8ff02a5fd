"""A shared secret token in the body or the URL path, for senders that cannot sign.

TradingView alerts cannot set headers or compute an HMAC; what they can do is carry a
secret in the alert's JSON message or in the webhook URL. The token is compared in
constant time against every configured one, and the source must also pin its senders'
addresses (``allowed_ips``, checked by the service). The token never reaches the bus:
it is removed from the published body.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

import orjson

from access_gateway.webhooks.errors import InvalidPayload, InvalidSignature
from access_gateway.webhooks.schemes.base import Verified

__all__ = ["TokenScheme"]


class TokenScheme:
    """Match a token from the path or a body field against the configured ones."""

    name = "token"

    def __init__(self, tokens: Sequence[str], *, token_in: str, field: str) -> None:
        self._tokens = tuple(token.encode() for token in tokens)
        self._token_in = token_in
        self._field = field

    def _matches(self, candidate: str) -> bool:
        given = candidate.encode()
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(token, given)
        return matched

    def verify(self, body: bytes, path_token: str | None) -> Verified:
        """Authenticate by the path token or the body's token field."""
        document: dict[str, Any] | None = None
        if self._token_in != "path":  # noqa: S105 - a location, not a secret
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                document = parsed
        candidate: object = None
        if path_token is not None and self._token_in in ("path", "either"):
            candidate = path_token
        elif document is not None and self._token_in in ("body", "either"):
            candidate = document.pop(self._field, None)
        if not isinstance(candidate, str) or not candidate:
            raise InvalidSignature("Missing webhook token", details={"reason": "missing"})
        if not self._matches(candidate):
            raise InvalidSignature(details={"reason": "mismatch"})
        if document is None:
            if self._token_in == "path":  # noqa: S105
                return Verified(scheme=self.name, raw=body)
            raise InvalidPayload("The body is not a JSON object", details={"reason": "not_json"})
        if path_token is not None:
            document.pop(self._field, None)
        return Verified(scheme=self.name, raw=orjson.dumps(document), document=document)
