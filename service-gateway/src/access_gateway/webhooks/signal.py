"""The normalized signal (schema ``signal.v1``) published on ``signals.normalized``.

Every accepted webhook, whatever its source's shape, becomes one of these. Changes that
add optional fields keep ``v1``; anything else is ``signal.v2`` on the same subject, so
consumers switch on ``schema``. docs/webhooks.md documents every field.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from access_gateway.webhooks.errors import InvalidPayload
from access_gateway.webhooks.payloads import GenericSignal, TradingViewAlert

__all__ = [
    "SCHEMA",
    "Signal",
    "encode_signal",
    "idempotency_key",
    "message_id_key",
    "normalize",
    "parse_payload",
]

SCHEMA = "signal.v1"


class Signal(BaseModel):
    """One normalized market signal."""

    model_config = ConfigDict(frozen=True)

    schema_: Literal["signal.v1"] = Field(default="signal.v1", alias="schema")
    id: str = Field(description="Idempotency key; also the JetStream Nats-Msg-Id stem")
    source: str = Field(description="The authenticated source (the URL's /webhook/{source})")
    origin: str | None = Field(description="The sender's own source field (generic shape)")
    kind: Literal["tradingview", "generic"] = Field(description="Payload shape received")
    instrument: str = Field(description="Upper-cased ticker or instrument")
    event_time: datetime = Field(description="When the signal happened (UTC), from the payload")
    received_at: datetime = Field(description="When the gateway accepted it (UTC)")
    action: str | None = Field(description="buy, sell, … (TradingView), else null")
    price: float | None = Field(description="Price (TradingView), else null")
    payload: dict[str, Any] = Field(description="Remaining fields, as sent")
    corr_id: str = Field(description="Trace id of the accepting request (logs, errors)")


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    # Field locations and messages only: the values may be anything the sender typed.
    return [
        {"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def parse_payload(
    shape: str, body: bytes, document: dict[str, Any] | None
) -> TradingViewAlert | GenericSignal:
    """Validate the body (or the already parsed document) against the source's shape."""
    model: type[TradingViewAlert | GenericSignal] = (
        TradingViewAlert if shape == "tradingview" else GenericSignal
    )
    try:
        if document is not None:
            return model.model_validate(document)
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = _errors(exc)
        reason = "not_json" if any(e["type"] == "json_invalid" for e in errors) else "shape"
        raise InvalidPayload(
            f"The body is not a valid {shape} payload",
            details={"reason": reason, "shape": shape, "errors": errors},
        ) from None


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def idempotency_key(source: str, instrument: str, event_time: datetime) -> str:
    """``hash(source|instrument|timestamp)`` (seed 004), timestamp normalized to UTC."""
    text = f"{source}|{instrument}|{_utc(event_time).isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def message_id_key(source: str, message_id: str) -> str:
    """The idempotency key of a Standard Webhooks message: its ``webhook-id``, per source."""
    return hashlib.sha256(f"{source}|id|{message_id}".encode()).hexdigest()[:40]


def normalize(
    source: str,
    parsed: TradingViewAlert | GenericSignal,
    *,
    received_at: datetime,
    corr_id: str,
    message_id: str | None = None,
) -> dict[str, Any]:
    """The ``signal.v1`` form of a validated payload, as the dict that is published.

    Built directly (not through :class:`Signal`, which documents and tests the shape):
    this runs once per accepted webhook.
    """
    if isinstance(parsed, TradingViewAlert):
        instrument = parsed.ticker.upper()
        event_time = _utc(parsed.time)
        extra = dict(parsed.model_extra or {})
        origin, kind, action, price = None, "tradingview", parsed.action, parsed.price
    else:
        instrument = parsed.instrument.upper()
        event_time = _utc(parsed.timestamp)
        extra = parsed.payload
        origin, kind, action, price = parsed.source, "generic", None, None
    key = (
        message_id_key(source, message_id)
        if message_id is not None
        else idempotency_key(source, instrument, event_time)
    )
    return {
        "schema": SCHEMA,
        "id": key,
        "source": source,
        "origin": origin,
        "kind": kind,
        "instrument": instrument,
        "event_time": event_time,
        "received_at": received_at,
        "action": action,
        "price": price,
        "payload": extra,
        "corr_id": corr_id,
    }


def encode_signal(signal: dict[str, Any]) -> bytes:
    """The JSON bytes published on ``signals.normalized`` (RFC 3339 times, UTC)."""
    return orjson.dumps(signal)
