"""Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).

Verification is the ``standardwebhooks`` package's (``whsec_`` secrets, several
space-separated ``v1,<base64>`` signatures during a rotation, constant-time compare);
the ``svix-*`` header names are mapped onto the standard ones first, so senders using
Svix's libraries work unchanged. The replay window is ours (REPLAY_WINDOW_SEC); the
package also refuses timestamps more than 5 minutes away, which is the specification's
own tolerance. ``webhook-id`` is the idempotency key: a replay of the same message is a
duplicate (GW-006).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from access_gateway.webhooks.errors import InvalidSignature, ReplayRejected
from access_gateway.webhooks.schemes.base import Verified, check_window

__all__ = ["StandardScheme"]

_NAMES = ("id", "timestamp", "signature")
_MAX_ID_CHARS = 256


class StandardScheme:
    """Verify Standard Webhooks signatures against one or more ``whsec_`` secrets."""

    name = "standard"

    def __init__(
        self, secrets: Sequence[str], *, window_seconds: int, clock: Callable[[], float]
    ) -> None:
        try:
            self._hooks = tuple(Webhook(secret) for secret in secrets)
        except Exception as exc:  # the package raises bare errors for bad base64
            raise ValueError("a Standard Webhooks secret is not valid base64") from exc
        self._window = window_seconds
        self._clock = clock

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Verified:
        """Check the timestamp window, then the signatures; return the message id."""
        values: dict[str, str] = {}
        for name in _NAMES:
            value = headers.get(f"webhook-{name}") or headers.get(f"svix-{name}")
            if value:
                values[f"webhook-{name}"] = value
        if len(values) != len(_NAMES):
            missing = [f"webhook-{n}" for n in _NAMES if f"webhook-{n}" not in values]
            raise InvalidSignature(
                "Missing Standard Webhooks headers",
                details={"reason": "missing", "missing": missing},
            )
        message_id = values["webhook-id"]
        if len(message_id) > _MAX_ID_CHARS:
            raise InvalidSignature(details={"reason": "malformed"})
        try:
            sent = int(values["webhook-timestamp"])
        except ValueError:
            raise ReplayRejected(
                "webhook-timestamp must be integer Unix seconds",
                details={"reason": "timestamp_invalid"},
            ) from None
        check_window("webhook-timestamp", sent, self._clock, self._window)
        for hook in self._hooks:
            try:
                hook.verify(body, values, json_parse=False)
            except WebhookVerificationError as exc:
                if "timestamp" in str(exc):
                    raise ReplayRejected(details={"reason": "timestamp_outside_window"}) from None
                continue
            except ValueError:
                # A malformed signature list or a body that is not UTF-8.
                raise InvalidSignature(details={"reason": "malformed"}) from None
            return Verified(scheme=self.name, raw=body, message_id=message_id)
        raise InvalidSignature(details={"reason": "mismatch"})
