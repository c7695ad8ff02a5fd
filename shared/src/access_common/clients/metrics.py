"""Client of the metrics service: ``POST /metrics/track`` with a batch of samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from access_common.clients._errors import raise_for_peer_error
from access_common.errors import DependencyUnavailable
from access_common.http import HttpClient

__all__ = ["MetricsClient", "TrackResult"]


class TrackResult(BaseModel):
    """What the metrics service did with a batch: aggregated, and refused past the series cap."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    accepted: int
    refused: int = 0


class MetricsClient:
    """Send samples to the metrics service; its 4xx codes come back as AccessErrors."""

    def __init__(self, http: HttpClient, base_url: str) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/metrics/track"

    async def track(self, samples: Sequence[dict[str, Any]]) -> TrackResult:
        """Push one batch (never retried: a retried batch could count twice)."""
        response = await self._http.request(
            "POST", self._url, content=orjson.dumps({"samples": list(samples)}),
            headers={"content-type": "application/json"}, idempotent=False,
        )  # fmt: skip
        raise_for_peer_error(response, "metrics")
        try:
            return TrackResult.model_validate_json(response.content)
        except ValidationError:
            raise DependencyUnavailable(
                "metrics answered an unreadable result",
                details={"peer": "metrics", "status": response.status_code},
            ) from None
