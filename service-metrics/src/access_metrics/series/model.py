"""What a pushed metric is: its family (name, type, label names, buckets) and its series."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

__all__ = [
    "DEFAULT_BUCKETS",
    "FamilySpec",
    "FamilyState",
    "MetricType",
    "Op",
    "SeriesKey",
]

SeriesKey = tuple[str, ...]

# prometheus-client's default latency buckets: what a pusher gets when it names none.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class MetricType(StrEnum):
    """The three kinds of sample the service aggregates."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """One metric family: fixed at its first sample, shared by every replica.

    ``name`` is the family name: a counter's ``_total`` is not part of it (as in
    prometheus-client and OpenMetrics); its samples are exposed as ``<name>_total``.
    ``label_names`` starts with ``service`` (the pushing service), then the pusher's
    label names, sorted.
    """

    name: str
    type: MetricType
    label_names: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()
    user_labels: tuple[str, ...] = field(init=False, repr=False, compare=False)
    bucket_list: list[float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # For the hot path: the pusher's label names (all but the leading `service`), and
        # the buckets as the list a sample repeating them carries.
        object.__setattr__(self, "user_labels", self.label_names[1:])
        object.__setattr__(self, "bucket_list", list(self.buckets))

    def sample_names(self) -> tuple[str, ...]:
        """Every sample name this family exposes (a clash with another family is refused)."""
        if self.type is MetricType.COUNTER:
            return (self.name, f"{self.name}_total", f"{self.name}_created")
        if self.type is MetricType.HISTOGRAM:
            suffixes = ("", "_bucket", "_count", "_sum", "_created")
            return tuple(self.name + suffix for suffix in suffixes)
        return (self.name,)

    def to_json(self) -> bytes:
        """The spec as stored in Redis."""
        return orjson.dumps(
            {
                "name": self.name,
                "type": self.type.value,
                "labels": list(self.label_names),
                "help": self.help,
                "buckets": list(self.buckets),
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> FamilySpec:
        """Read a spec written by :meth:`to_json`."""
        data: dict[str, Any] = orjson.loads(raw)
        return cls(
            name=data["name"],
            type=MetricType(data["type"]),
            label_names=tuple(data["labels"]),
            help=data["help"],
            buckets=tuple(float(b) for b in data["buckets"]),
        )

    def bucket_index(self, value: float) -> int:
        """The index of the first bucket whose upper bound holds ``value`` (len = +Inf)."""
        return bisect_left(self.buckets, value)


# One validated sample, ready to apply: (family, series key, value, the sample's position in
# its request). A plain tuple, not a NamedTuple: one is built per sample on the hot path,
# and a NamedTuple's constructor costs four times a tuple display's.
Op = tuple[FamilySpec, SeriesKey, float, int]


@dataclass(slots=True)
class FamilyState:
    """The aggregated series of one family.

    Counters and gauges hold one float per series; a histogram holds per-bucket counts
    (not cumulative; the last one is +Inf), then the sum, then the count.
    """

    spec: FamilySpec
    values: dict[SeriesKey, float] = field(default_factory=dict)
    histograms: dict[SeriesKey, list[float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.histograms) if self.spec.type is MetricType.HISTOGRAM else len(self.values)

    def __contains__(self, key: SeriesKey) -> bool:
        if self.spec.type is MetricType.HISTOGRAM:
            return key in self.histograms
        return key in self.values

    def apply(self, key: SeriesKey, value: float) -> None:
        """Aggregate one sample into its series."""
        kind = self.spec.type
        if kind is MetricType.COUNTER:
            self.values[key] = self.values.get(key, 0.0) + value
        elif kind is MetricType.GAUGE:
            self.values[key] = value
        else:
            state = self.histograms.get(key)
            if state is None:
                state = self.histograms[key] = [0.0] * (len(self.spec.buckets) + 3)
            state[self.spec.bucket_index(value)] += 1
            state[-2] += value
            state[-1] += 1
