"""The families this service knows: names, types and label names, and what each name claims.

A name keeps its type, label names and buckets from its first sample. Sample names are
claimed too (a histogram ``x`` owns ``x_bucket``, ``x_count``, ``x_sum``), so no two
families, and no family and the service's own metrics, ever expose the same series name.
"""

from __future__ import annotations

from collections.abc import Iterable

from access_metrics.errors import (
    FamilyLimitExceeded,
    MetricLabelsConflict,
    MetricNameConflict,
    MetricTypeConflict,
)
from access_metrics.series.model import FamilySpec, MetricType

__all__ = ["FamilyRegistry", "conflict", "family_name"]


def family_name(name: str, kind: MetricType) -> str:
    """The family a pushed name belongs to: a counter's ``_total`` is not part of it."""
    if kind is MetricType.COUNTER and name.endswith("_total"):
        return name[:-6]
    return name


class FamilyRegistry:
    """Known families, looked up by (pushed name, type) on the hot path."""

    def __init__(self, *, max_families: int, reserved: Iterable[str] = ()) -> None:
        self.max_families = max_families
        self._families: dict[str, FamilySpec] = {}
        self._claims: dict[str, str] = {}
        self._reserved = frozenset(reserved)
        self._by_input: dict[tuple[str, str], FamilySpec] = {}

    def __len__(self) -> int:
        return len(self._families)

    def families(self) -> list[FamilySpec]:
        """Every known family."""
        return list(self._families.values())

    def lookup(self, name: str, kind: str) -> FamilySpec | None:
        """The family of a pushed (name, type) seen before; None on a first sight."""
        return self._by_input.get((name, kind))

    def existing(self, candidate: FamilySpec, pushed_name: str) -> FamilySpec | None:
        """The registered family equal to ``candidate``, None if new; raise on a conflict."""
        known = self._families.get(candidate.name)
        if known is not None:
            conflict(known, candidate)
            self._by_input[(pushed_name, candidate.type.value)] = known
            return known
        for sample_name in candidate.sample_names():
            if sample_name in self._reserved:
                raise MetricNameConflict(
                    f"{pushed_name!r} clashes with the metrics service's own metric "
                    f"{sample_name!r}",
                    details={"metric": pushed_name, "clashes_with": sample_name},
                )
            owner_name = self._claims.get(sample_name)
            if owner_name is not None:
                owner = self._families[owner_name]
                details = {"metric": pushed_name, "clashes_with": owner.name}
                if pushed_name in owner.sample_names() and owner.type is not candidate.type:
                    raise MetricTypeConflict(
                        f"{pushed_name!r} is already a {owner.type.value}", details=details
                    )
                raise MetricNameConflict(
                    f"{pushed_name!r} clashes with the {owner.type.value} {owner.name!r}",
                    details=details,
                )
        if len(self._families) >= self.max_families:
            raise FamilyLimitExceeded(details={"limit": self.max_families})
        return None

    def add(self, spec: FamilySpec, pushed_name: str | None = None) -> None:
        """Register a family (after :meth:`existing` found it new, or loaded from storage)."""
        if spec.name not in self._families:
            self._families[spec.name] = spec
            for sample_name in spec.sample_names():
                self._claims.setdefault(sample_name, spec.name)
        if pushed_name is not None:
            self._by_input[(pushed_name, spec.type.value)] = spec


def conflict(known: FamilySpec, candidate: FamilySpec) -> None:
    """Raise when ``candidate`` is not the same family as ``known``."""
    details = {"metric": known.name}
    if known.type is not candidate.type:
        raise MetricTypeConflict(
            f"{known.name!r} is already a {known.type.value}",
            details={**details, "type": known.type.value},
        )
    if known.label_names != candidate.label_names:
        raise MetricLabelsConflict(
            f"{known.name!r} already has the labels {list(known.label_names)}",
            details={**details, "label_names": list(known.label_names)},
        )
    if candidate.buckets and known.buckets != candidate.buckets:
        raise MetricLabelsConflict(
            f"{known.name!r} already has other histogram buckets",
            code="METRIC_BUCKETS_CONFLICT",
            details={**details, "buckets": list(known.buckets)},
        )
