"""Wire models of the webhook endpoints: the 202 body and seed 004's /healthz."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["AcceptedBody", "Healthz"]


class AcceptedBody(BaseModel):
    """202: the signal is in JetStream (both subjects acknowledged)."""

    status: Literal["accepted"] = "accepted"
    id: str = Field(description="Idempotency key of the signal; a resend gets 409 GW-006")
    source: str
    schema_: str = Field(alias="schema", description="Version of the normalized message")
    corr_id: str = Field(description="Trace id: search the logs with it")
    raw_seq: int = Field(description="Stream sequence of the raw message")
    normalized_seq: int = Field(description="Stream sequence of the normalized message")


class Healthz(BaseModel):
    """Seed 004's health answer: 200 while NATS is reachable, else 503."""

    ok: bool
    uptime_s: int
    nats: Literal["connected", "degraded", "disconnected"]
    version: str
