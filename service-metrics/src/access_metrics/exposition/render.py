"""Render aggregated families in Prometheus text 0.0.4 or OpenMetrics 1.0.0.

Written by hand rather than through prometheus-client's collectors: the label part of
each series is escaped once and cached, so a scrape of 10,000 series is a loop of
string joins (docs/benchmarks.md compares both).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import accumulate

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
        self._parts: dict[tuple[str, tuple[str, ...]], dict[SeriesKey, str]] = {}

    def _label_parts(self, spec: FamilySpec) -> dict[SeriesKey, str]:
        """The family's cache of ``{a="x",b="y"`` per series (histograms append ``le``)."""
        return self._parts.setdefault((spec.name, spec.label_names), {})

    @staticmethod
    def _label_part(spec: FamilySpec, key: SeriesKey) -> str:
        pairs = ",".join(
            f'{name}="{_escape_label(value)}"'
            for name, value in zip(spec.label_names, key, strict=True)
        )
        return "{" + pairs

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
        parts = self._label_parts(spec)
        label_part = self._label_part
        isfinite = math.isfinite
        if kind is not MetricType.HISTOGRAM:
            sample = f"{name}_total" if kind is MetricType.COUNTER else name
            for key, value in state.values.items():
                part = parts.get(key)
                if part is None:
                    part = parts[key] = label_part(spec, key)
                text = repr(value) if isfinite(value) else number(value)
                out.append(f"{sample}{part}}} {text}\n")
            return
        bounds = [f',le="{number(b)}"}} ' for b in spec.buckets] + [',le="+Inf"} ']
        for key, counts in state.histograms.items():
            part = parts.get(key)
            if part is None:
                part = parts[key] = label_part(spec, key)
            prefix = f"{name}_bucket{part}"
            out.extend(
                f"{prefix}{bound}{cumulative!r}\n"
                for bound, cumulative in zip(bounds, accumulate(counts[:-2]), strict=True)
            )
            out.append(f"{name}_count{part}}} {counts[-1]!r}\n")
            out.append(f"{name}_sum{part}}} {number(counts[-2])}\n")
