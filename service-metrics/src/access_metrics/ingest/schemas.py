"""Wire models of POST /metrics/track (documentation and responses; parsing is by hand)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["Refusal", "Sample", "TrackBatch", "TrackResponse"]


class Sample(BaseModel):
    """One sample: a counter increment, a gauge value or one histogram observation."""

    name: str = Field(
        description="Prometheus metric name; a counter's `_total` may be given or not",
        examples=["gateway_cache_hits_total"],
    )
    type: Literal["counter", "gauge", "histogram"]
    value: float | Literal["NaN", "+Inf", "-Inf"] = Field(
        description="Counter: increment >= 0. Gauge: the value (NaN/±Inf as strings). "
        "Histogram: one observation"
    )
    labels: dict[str, str] = Field(default_factory=dict)
    source: str = Field(description="The pushing service; exposed as the `service` label")
    help: str | None = Field(default=None, description="HELP text, kept from the first sample")
    buckets: list[float] | None = Field(
        default=None, description="Histogram upper bounds, fixed by the first sample"
    )


class TrackBatch(BaseModel):
    """Several samples in one request (or send one sample object on its own)."""

    samples: list[Sample]


class Refusal(BaseModel):
    """A sample of an accepted batch that was not aggregated."""

    index: int
    code: Literal["SERIES_LIMIT_EXCEEDED"]
    metric: str


class TrackResponse(BaseModel):
    """How many samples were aggregated; refusals are new series past the cap."""

    accepted: int
    refused: int = 0
    refusals: list[Refusal] = Field(default_factory=list)
