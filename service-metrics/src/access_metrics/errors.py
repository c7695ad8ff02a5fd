"""The metrics service's error codes (the table is in docs/errors.md)."""

from __future__ import annotations

from access_common.errors import BadRequest, Conflict, PayloadTooLarge, ValidationFailed

__all__ = [
    "BatchTooLarge",
    "FamilyLimitExceeded",
    "InvalidJson",
    "InvalidLabel",
    "InvalidMetricName",
    "InvalidSample",
    "InvalidValue",
    "MetricLabelsConflict",
    "MetricNameConflict",
    "MetricTypeConflict",
    "SampleError",
    "SeriesLimitExceeded",
]


class InvalidJson(BadRequest):
    """The body is not JSON (NaN and Infinity literals are not JSON either)."""

    default_code = "INVALID_JSON"
    default_message = "The body is not valid JSON"


class BatchTooLarge(PayloadTooLarge):
    """More samples in one request than ACCESS_METRICS_MAX_BATCH_SAMPLES."""

    default_code = "BATCH_TOO_LARGE"
    default_message = "Too many samples in one request"


class SampleError(ValidationFailed):
    """Base of the per-sample refusals; ``reason`` names the refusal in own metrics."""

    default_code = "INVALID_SAMPLE"
    default_message = "A sample is invalid"


class InvalidSample(SampleError):
    """A field is missing, unknown, or of the wrong JSON type."""


class InvalidMetricName(SampleError):
    """The name breaks Prometheus's rules or is reserved."""

    default_code = "INVALID_METRIC_NAME"
    default_message = "The metric name is not a valid Prometheus name"


class InvalidLabel(SampleError):
    """A label name is invalid or reserved, a value too long, or too many labels."""

    default_code = "INVALID_LABEL"
    default_message = "A label is invalid"


class InvalidValue(SampleError):
    """The value is not allowed for the type (negative counter, NaN or Inf)."""

    default_code = "INVALID_VALUE"
    default_message = "The value is not allowed for this metric type"


class SeriesLimitExceeded(SampleError):
    """A new series past the per-metric cap (existing series keep working)."""

    default_code = "SERIES_LIMIT_EXCEEDED"
    default_message = "The metric has reached its limit of label sets"


class FamilyLimitExceeded(SampleError):
    """A new metric past ACCESS_METRICS_MAX_FAMILIES."""

    default_code = "FAMILY_LIMIT_EXCEEDED"
    default_message = "The service holds the maximum number of metrics"


class MetricTypeConflict(Conflict):
    """The name is already a metric of another type."""

    default_code = "METRIC_TYPE_CONFLICT"
    default_message = "The metric name is already used with another type"


class MetricLabelsConflict(Conflict):
    """The name is already a metric with other label names."""

    default_code = "METRIC_LABELS_CONFLICT"
    default_message = "The metric is already registered with other label names"


class MetricNameConflict(Conflict):
    """The name, or one of its sample names, belongs to another metric or to the service."""

    default_code = "METRIC_NAME_CONFLICT"
    default_message = "The metric name clashes with another metric"
