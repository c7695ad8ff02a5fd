"""Ingest one POST /metrics/track body: all samples valid, or nothing applied."""

from __future__ import annotations

import time
from typing import Any

import orjson

from access_common.errors import AccessError, BackendError
from access_metrics.errors import BatchTooLarge, InvalidJson, InvalidSample, SeriesLimitExceeded
from access_metrics.ingest.schemas import Refusal, TrackResponse
from access_metrics.ingest.validation import Validated
from access_metrics.runtime import MetricsRuntime

__all__ = ["track"]

_MAX_REPORTED = 20


def _samples(body: bytes, max_samples: int) -> list[Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidJson(
            'The body is not valid JSON (send NaN and Inf as the strings "NaN", "+Inf")'
        ) from None
    if type(parsed) is dict and "samples" in parsed:
        if len(parsed) != 1 or type(parsed["samples"]) is not list:
            raise InvalidSample('A batch is {"samples": [...]} and nothing else')
        samples: list[Any] = parsed["samples"]
    else:
        samples = [parsed]
    if not samples:
        raise InvalidSample("The batch holds no sample")
    if len(samples) > max_samples:
        raise BatchTooLarge(
            f"At most {max_samples} samples per request",
            details={"max_samples": max_samples, "samples": len(samples)},
        )
    return samples


async def _validate(runtime: MetricsRuntime, samples: list[Any]) -> Validated:
    """Every sample's op, or raise the first error with every error listed in details."""
    validated = await runtime.validator.ops(samples)
    errors = validated.errors
    if not errors:
        return validated
    for error in errors:
        runtime.own.refuse(error.code)
    if len(samples) > len(errors):
        # Valid samples of a refused request are not applied either: count them too.
        runtime.own.refuse("batch_refused", len(samples) - len(errors))
    first = errors[0]
    listed = [
        {"index": e.details.get("index"), "code": e.code, "message": e.message}
        for e in errors[:_MAX_REPORTED]
    ]
    first.details = {**first.details, "refused": len(samples), "errors": listed}
    if len(samples) > 1:
        first.message = f"{len(errors)} of {len(samples)} samples refused; none applied: " + (
            first.message
        )
    raise first


async def track(runtime: MetricsRuntime, body: bytes) -> TrackResponse:
    """Validate every sample, then aggregate them in one atomic step."""
    started = time.perf_counter()
    own = runtime.own
    try:
        samples = _samples(body, runtime.settings.metrics_max_batch_samples)
    except AccessError as exc:
        own.refuse(exc.code)
        raise
    try:
        validated = await _validate(runtime, samples)
        ops = validated.ops
        refused = await runtime.store.apply(ops, runtime.settings.metrics_max_series_per_metric)
    except BackendError as exc:
        own.refuse(exc.code, len(samples))
        raise
    if refused:
        own.refuse(SeriesLimitExceeded.default_code, len(refused))
        if len(refused) == len(ops):
            name = ops[0][0].name
            raise SeriesLimitExceeded(
                f"{name!r} holds {runtime.settings.metrics_max_series_per_metric} label sets; "
                "new ones are refused, existing ones still count",
                details={
                    "metric": name,
                    "limit": runtime.settings.metrics_max_series_per_metric,
                    "refused": len(refused),
                },
            )
    refused_set = set(refused)
    if validated.fresh:
        runtime.validator.remember(validated, refused_set)
    counts = validated.counts
    for spec, _, _, at in ops if refused_set else ():
        if at in refused_set:
            counts[spec.type] -= 1
    for kind, count in counts.items():
        if count:
            own.accepted_by_type[kind].inc(count)
    own.ingest_seconds.observe(time.perf_counter() - started)
    if not refused:
        return TrackResponse(accepted=len(ops))
    return TrackResponse(
        accepted=len(ops) - len(refused),
        refused=len(refused),
        refusals=[
            Refusal(index=at, code="SERIES_LIMIT_EXCEEDED", metric=spec.name)
            for spec, _, _, at in ops
            if at in refused_set
        ][:_MAX_REPORTED],
    )
