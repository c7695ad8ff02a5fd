"""Render aggregated families in Prometheus text 0.0.4 or OpenMetrics 1.0.0.

Written by hand rather than through prometheus-client's collectors: the label part of
each series is escaped once and cached, so a scrape of 10,000 series is a loop of
string joins (docs/benchmarks.md compares both).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from access_metrics.series.model import FamilySpec, FamilyState, MetricType, SeriesKey

__all__ = ["OPENMETRICS", "TEXT", "Renderer", "wants_openmetrics"]

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def wants_openmetrics(accept: str | None) -> bool:
    """True when the scraper's Accept header lists OpenMetrics (Prometheus does)."""
    if not accept:
        return False
    return any(
        part.split(";", 1)[0].strip() == "application/openmetrics-text"
        for part in accept.split(",")
    )


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str, openmetrics: bool) -> str:
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n")
    return escaped.replace('"', '\\"') if openmetrics else escaped


def number(value: float) -> str:
    """A sample value as Prometheus writes it."""
    if math.isfinite(value):
        return repr(value)
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


class Renderer:
    """Renders families; remembers each series' escaped label part between scrapes."""

    def __init__(self) -> None:
        self._labels: dict[tuple[tuple[str, ...], SeriesKey], str] = {}

    def _label_part(self, spec: FamilySpec, key: SeriesKey) -> str:
        """``{a="x",b="y"`` (no closing brace: histograms append ``le``)."""
        cache_key = (spec.label_names, key)
        part = self._labels.get(cache_key)
        if part is None:
            pairs = ",".join(
                f'{name}="{_escape_label(value)}"'
                for name, value in zip(spec.label_names, key, strict=True)
            )
            part = self._labels[cache_key] = "{" + pairs
        return part

    def render(self, states: Iterable[FamilyState], *, openmetrics: bool) -> str:
        """The exposition of ``states`` (without OpenMetrics' final ``# EOF``)."""
        out: list[str] = []
        for state in states:
            if len(state):
                self._family(out, state, openmetrics)
        return "".join(out)

    def _family(self, out: list[str], state: FamilyState, openmetrics: bool) -> None:
        spec = state.spec
        name = spec.name
        kind = spec.type
        head = name if openmetrics or kind is not MetricType.COUNTER else f"{name}_total"
        out.append(f"# HELP {head} {_escape_help(spec.help, openmetrics)}\n")
        out.append(f"# TYPE {head} {kind.value}\n")
        part = self._label_part
        if kind is MetricType.GAUGE:
            out.extend(f"{name}{part(spec, k)}}} {number(v)}\n" for k, v in state.values.items())
            return
        if kind is MetricType.COUNTER:
            sample = f"{name}_total"
            out.extend(f"{sample}{part(spec, k)}}} {number(v)}\n" for k, v in state.values.items())
            return
        bounds = [*(number(b) for b in spec.buckets), "+Inf"]
        for key, counts in state.histograms.items():
            labels = part(spec, key)
            cumulative = 0.0
            for bound, count in zip(bounds, counts, strict=False):
                cumulative += count
                out.append(f'{name}_bucket{labels},le="{bound}"}} {cumulative!r}\n')
            out.append(f"{name}_count{labels}}} {counts[-1]!r}\n")
            out.append(f"{name}_sum{labels}}} {number(counts[-2])}\n")
