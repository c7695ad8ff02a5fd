"""Turn one pushed JSON sample into an :class:`Op`, or refuse it with a precise code.

Hot path: a series accepted before (same name, type, source and label set, as sent) costs
one dict lookup and a value check; everything else is validated in full, and Prometheus's
name rules are checked only on a family's first sight.
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from access_common.errors import AccessError, BackendError
from access_metrics.errors import (
    InvalidLabel,
    InvalidMetricName,
    InvalidSample,
    InvalidValue,
    MetricLabelsConflict,
)
from access_metrics.series.model import DEFAULT_BUCKETS, FamilySpec, MetricType, Op, SeriesKey
from access_metrics.series.registry import FamilyRegistry, conflict, family_name

__all__ = ["Limits", "SampleValidator", "Validated"]

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_SOURCE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_FIELDS = frozenset({"name", "type", "value", "labels", "source", "help", "buckets"})
_TYPES = frozenset(t.value for t in MetricType)
# Added by the service (service) or by Prometheus at scrape time (job, instance).
_RESERVED_LABELS = frozenset({"service", "job", "instance"})
_GAUGE_SPECIALS = {"NaN": math.nan, "+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf}
_MAX_NAME = 200
_MAX_HELP = 500
_MAX_BUCKETS = 50
# Series on the fast path: a pusher sends its label sets in a stable order, so about one
# entry per series (at most families x series cap); a bound keeps a flood from growing it.
_MAX_SEEN = 200_000
# The numbers a sample's value may be, per type, as one chained comparison: a counter's
# increment is finite and >= 0, an observation finite, a gauge anything (its NaN and
# ±Inf strings take the full path).
_BOUNDS = {
    MetricType.COUNTER: (0.0, sys.float_info.max),
    MetricType.HISTOGRAM: (-sys.float_info.max, sys.float_info.max),
    MetricType.GAUGE: (-math.inf, math.inf),
}
# Accepted samples are counted per type in a list (an enum member hashes in Python).
_TYPE_SLOTS = (MetricType.COUNTER, MetricType.GAUGE, MetricType.HISTOGRAM)

Register = Callable[[FamilySpec], Awaitable[FamilySpec]]
Stored = Callable[[], Awaitable[list[FamilySpec]]]


# (name, type, source, label items) exactly as a sample sends them.
SeenKey = tuple[Any, Any, Any, tuple[tuple[str, Any], ...]]


class Validated(NamedTuple):
    """One request's samples after validation."""

    ops: list[Op]
    errors: list[AccessError]
    # (sample index, fast-path key, family, series) of series not on the fast path yet.
    fresh: list[tuple[int, SeenKey, FamilySpec, SeriesKey]]
    # Ops per metric type, for the service's accepted-samples counter.
    counts: dict[MetricType, int]


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-sample limits, from settings."""

    max_labels: int = 16
    max_label_value_length: int = 256


class SampleValidator:
    """Validate samples against Prometheus's rules and the families already known."""

    def __init__(
        self, registry: FamilyRegistry, register: Register, stored: Stored, limits: Limits
    ) -> None:
        self.registry = registry
        self._register = register
        self._stored = stored
        self.limits = limits
        # The fast path: family, series, the numbers its value may take, its type's slot.
        self._seen: dict[SeenKey, tuple[FamilySpec, SeriesKey, float, float, int]] = {}

    async def ops(self, samples: list[Any]) -> Validated:
        """Every sample's op, the errors of the refused ones, and the series seen first here.

        The loop is the hot path. A sample shaped as the pusher sends it (name, type, value,
        labels, source; histograms may repeat their buckets) whose series was accepted before
        is one dict lookup keyed by exactly what it names, then a value check: equal keys
        mean equal strings, already validated. Anything else (a first sight, an error,
        optional fields) takes the full path of :meth:`op`, and is remembered after it is
        aggregated (:meth:`remember`).
        """
        ops: list[Op] = []
        append = ops.append
        errors: list[AccessError] = []
        fresh: list[tuple[int, SeenKey, FamilySpec, SeriesKey]] = []
        seen = self._seen
        counts = [0, 0, 0]  # per _TYPE_SLOTS
        for index, raw in enumerate(samples):
            try:
                key: SeenKey | None = None
                size = len(raw) if type(raw) is dict else 0
                if size == 5 or (size == 6 and "buckets" in raw):
                    try:
                        key = (raw["name"], raw["type"], raw["source"],
                               tuple(raw["labels"].items()))  # fmt: skip
                        spec, series, low, high, slot = seen[key]
                        value: Any = raw["value"]
                    except (KeyError, TypeError, AttributeError):
                        # A first sight, a missing field, or a list or object where a string
                        # or the labels belong: the full path says which.
                        pass
                    else:
                        number_type = type(value)
                        # Chained bounds also refuse NaN (every comparison with it is false).
                        if (
                            (number_type is float or number_type is int)
                            and low <= value <= high
                            and (size == 5 or raw["buckets"] == spec.bucket_list)
                        ):
                            append((spec, series, float(value), index))
                            counts[slot] += 1
                            continue
                op = await self.op(raw, index)
                append(op)
                counts[_TYPE_SLOTS.index(op[0].type)] += 1
                if key is not None and len(seen) < _MAX_SEEN:
                    fresh.append((index, key, op[0], op[1]))
            except BackendError:
                raise
            except AccessError as exc:
                errors.append(exc)
        by_type = {kind: count for kind, count in zip(_TYPE_SLOTS, counts, strict=True) if count}
        return Validated(ops, errors, fresh, by_type)

    def remember(self, validated: Validated, refused: Collection[int]) -> None:
        """Let the aggregated new series of a request take the fast path from now on.

        Only after they were aggregated: a series refused by the cap stays on the full path,
        so a label flood cannot fill the table. The table is bounded; once full, further
        series are checked in full every time (still correct, only slower).
        """
        seen = self._seen
        for index, key, spec, series in validated.fresh:
            if index not in refused and len(seen) < _MAX_SEEN:
                low, high = _BOUNDS[spec.type]
                seen[key] = (spec, series, low, high, _TYPE_SLOTS.index(spec.type))

    async def op(self, raw: Any, index: int) -> Op:
        """The validated operation of sample ``index``; raises a SampleError or Conflict."""
        if type(raw) is not dict:
            raise InvalidSample("A sample is a JSON object", details={"index": index})
        if not raw.keys() <= _FIELDS:
            unknown = sorted(set(raw) - _FIELDS)
            raise InvalidSample(f"Unknown fields {unknown}", details={"index": index})
        name = raw.get("name")
        kind = raw.get("type")
        source = raw.get("source")
        labels = raw.get("labels")
        if labels is None:
            labels = {}
        if type(name) is not str or type(kind) is not str or type(labels) is not dict:
            raise InvalidSample(
                "name and type are strings, labels an object of strings", details={"index": index}
            )
        if type(source) is not str or _SOURCE.match(source) is None:
            raise InvalidSample(
                "source names the pushing service: lowercase letters, digits, '-' or '_'",
                details={"index": index, "field": "source"},
            )
        spec = self.registry.lookup(name, kind)
        if spec is None or ("buckets" in raw and _buckets(raw["buckets"], index) != spec.buckets):
            spec = await self._first_sight(raw, name, kind, labels, index)
        return (spec, self._key(spec, source, labels, index), _value(spec, raw, index), index)

    def _key(
        self, spec: FamilySpec, source: str, labels: dict[str, Any], index: int
    ) -> tuple[str, ...]:
        names = spec.label_names
        if len(labels) != len(names) - 1 or not all(n in labels for n in names[1:]):
            raise MetricLabelsConflict(
                f"{spec.name!r} has the labels {list(names[1:])}",
                details={"index": index, "metric": spec.name, "label_names": list(names[1:])},
            )
        key = [source]
        limit = self.limits.max_label_value_length
        for label in names[1:]:
            value = labels[label]
            if type(value) is not str or len(value) > limit:
                raise InvalidLabel(
                    f"Label {label!r}: a string of at most {limit} characters",
                    details={"index": index, "label": label},
                )
            key.append(value)
        return tuple(key)

    async def _first_sight(
        self, raw: dict[str, Any], name: str, kind: str, labels: dict[str, Any], index: int
    ) -> FamilySpec:
        if kind not in _TYPES:
            raise InvalidSample(
                f"type is one of {sorted(_TYPES)}", details={"index": index, "field": "type"}
            )
        metric_type = MetricType(kind)
        if len(name) > _MAX_NAME or not _METRIC_NAME.match(name) or name.startswith("__"):
            raise InvalidMetricName(
                f"{name[:_MAX_NAME]!r} is not a valid Prometheus metric name "
                "([a-zA-Z_:][a-zA-Z0-9_:]*, not starting with __)",
                details={"index": index},
            )
        help_text = raw.get("help")
        if help_text is None:
            help_text = f"{name} (pushed to the metrics service)"
        if type(help_text) is not str or len(help_text) > _MAX_HELP:
            raise InvalidSample(
                f"help is a string of at most {_MAX_HELP} characters",
                details={"index": index, "field": "help"},
            )
        buckets = _buckets(raw.get("buckets"), index)
        if buckets and metric_type is not MetricType.HISTOGRAM:
            raise InvalidSample(
                "buckets are for histograms", details={"index": index, "field": "buckets"}
            )
        candidate = FamilySpec(
            name=family_name(name, metric_type),
            type=metric_type,
            label_names=("service", *self._label_names(metric_type, labels, index)),
            help=help_text,
            buckets=buckets,
        )
        known = self.registry.existing(candidate, name)
        if known is not None:
            return known
        # New here: another replica (or an earlier run) may have claimed the name since.
        for spec in await self._stored():
            self.registry.add(spec)
        known = self.registry.existing(candidate, name)
        if known is not None:
            return known
        if metric_type is MetricType.HISTOGRAM and not buckets:
            candidate = replace(candidate, buckets=DEFAULT_BUCKETS)
        spec = await self._register(candidate)
        if spec != candidate:
            # Another replica registered the name first, maybe differently.
            conflict(spec, candidate)
        self.registry.add(spec, name)
        return spec

    def _label_names(
        self, metric_type: MetricType, labels: dict[str, Any], index: int
    ) -> list[str]:
        if len(labels) > self.limits.max_labels:
            raise InvalidLabel(
                f"At most {self.limits.max_labels} labels per sample",
                details={"index": index, "limit": self.limits.max_labels},
            )
        reserved = (
            _RESERVED_LABELS | {"le"} if metric_type is MetricType.HISTOGRAM else (_RESERVED_LABELS)
        )
        for label in labels:
            if not _LABEL_NAME.match(label) or label.startswith("__") or label in reserved:
                raise InvalidLabel(
                    f"{label[:100]!r} is not an allowed label name ([a-zA-Z_][a-zA-Z0-9_]*, "
                    f"not __*, not one of {sorted(reserved)})",
                    details={"index": index, "label": label[:100]},
                )
        return sorted(labels)


def _buckets(raw: Any, index: int) -> tuple[float, ...]:
    if raw is None:
        return ()
    if (
        type(raw) is not list
        or not 0 < len(raw) <= _MAX_BUCKETS
        or not all(type(b) in (int, float) and math.isfinite(b) for b in raw)
        or any(a >= b for a, b in itertools.pairwise(raw))
    ):
        raise InvalidSample(
            f"buckets: 1 to {_MAX_BUCKETS} finite, strictly increasing numbers (+Inf is implied)",
            details={"index": index, "field": "buckets"},
        )
    return tuple(float(b) for b in raw)


def _value(spec: FamilySpec, raw: dict[str, Any], index: int) -> float:
    value = raw.get("value")
    kind = type(value)
    if isinstance(value, int | float) and kind is not bool:
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    elif kind is str and value in _GAUGE_SPECIALS:
        number = _GAUGE_SPECIALS[value]
    else:
        raise InvalidSample(
            'value is a number ("NaN", "+Inf", "-Inf" as strings, for gauges)',
            details={"index": index, "field": "value"},
        )
    if spec.type is MetricType.GAUGE:
        return number
    if not math.isfinite(number):
        raise InvalidValue(
            f"NaN and Inf are allowed for gauges only, not for a {spec.type.value}",
            details={"index": index, "metric": spec.name},
        )
    if spec.type is MetricType.COUNTER and number < 0:
        raise InvalidValue(
            "A counter only goes up: send a non-negative increment",
            details={"index": index, "metric": spec.name},
        )
    return number
