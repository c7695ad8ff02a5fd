"""The payload shapes senders post: TradingView alerts and the generic signal (seed 004)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["GenericSignal", "TradingViewAlert"]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Action = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=32)
]


class TradingViewAlert(BaseModel):
    """``{"ticker", "action", "price", "time"}``; further fields are kept in ``payload``.

    ``price`` may be a number or a numeric string (TradingView placeholders are often
    quoted); ``time`` is ISO 8601 with an offset (``{{time}}`` gives ``…Z``) or Unix time.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    ticker: Name
    action: Action
    price: float = Field(allow_inf_nan=False)
    time: AwareDatetime


class GenericSignal(BaseModel):
    """``{"source", "instrument", "timestamp", "payload"}``: any signal from any system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Name
    instrument: Name
    timestamp: AwareDatetime
    payload: dict[str, Any] = Field(default_factory=dict)
