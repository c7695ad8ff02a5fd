"""Server-side filters: equality on top-level and dotted payload fields.

``{"commodity": "oil", "meta.venue": "ICE"}`` (or the nested ``{"meta": {"venue": "ICE"}}``)
matches a payload whose ``commodity`` is ``"oil"`` and whose ``meta.venue`` is ``"ICE"``.
Values are JSON scalars compared with JSON's types: ``true`` never equals ``1``. A filter
is parsed once into a :class:`Filter`; equal filters share one key, so the hub evaluates
each distinct filter once per message whatever the number of subscribers using it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from access_streaming.errors import FilterInvalid

__all__ = ["MAX_FILTER_FIELDS", "Filter", "FilterKey", "parse_filters"]

MAX_FILTER_FIELDS = 16
_MAX_DEPTH = 8
_MAX_PATH_CHARS = 200
_MAX_VALUE_CHARS = 256

Scalar = str | int | float | bool | None
# ((path tokens, type tag, value), ...) sorted: the identity of a filter.
FilterKey = tuple[tuple[tuple[str, ...], str, Scalar], ...]


def _tag(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    raise FilterInvalid(
        "Filter values must be strings, numbers, booleans or null",
        details={"value_type": type(value).__name__},
    )


def _flatten(raw: Mapping[str, Any], prefix: tuple[str, ...], out: list[Any]) -> None:
    for name, value in raw.items():
        if not isinstance(name, str) or not name or len(name) > _MAX_PATH_CHARS:
            raise FilterInvalid("Filter field names are non-empty strings of at most 200 chars")
        path = (*prefix, *name.split("."))
        if "" in path or len(path) > _MAX_DEPTH:
            raise FilterInvalid(
                "Filter fields are dotted paths of at most 8 names", details={"field": name}
            )
        if isinstance(value, Mapping):
            _flatten(value, path, out)
            continue
        tag = _tag(value)
        if isinstance(value, str) and len(value) > _MAX_VALUE_CHARS:
            raise FilterInvalid("Filter values are at most 256 chars", details={"field": name})
        if isinstance(value, float) and math.isnan(value):
            raise FilterInvalid("Filter values must not be NaN", details={"field": name})
        out.append((path, tag, value))


def parse_filters(raw: object) -> Filter | None:
    """A Filter from a client's ``filters`` (None or ``{}``: no filter); FilterInvalid if bad."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise FilterInvalid("filters must be an object of field to value")
    fields: list[Any] = []
    _flatten(raw, (), fields)
    if not fields:
        return None
    if len(fields) > MAX_FILTER_FIELDS:
        raise FilterInvalid(
            f"At most {MAX_FILTER_FIELDS} filter fields", details={"max": MAX_FILTER_FIELDS}
        )
    paths = [field[0] for field in fields]
    if len(set(paths)) != len(paths):
        raise FilterInvalid("A filter field is given twice")
    return Filter(tuple(sorted(fields, key=lambda f: (f[0], f[1], repr(f[2])))))


@dataclass(frozen=True, slots=True)
class Filter:
    """A conjunction of field equalities, ready to test decoded payloads."""

    key: FilterKey

    def matches(self, payload: object) -> bool:
        """True when every field of the payload equals the filter's value (typed)."""
        for path, tag, expected in self.key:
            value: Any = payload
            for name in path:
                if not isinstance(value, dict):
                    return False
                value = value.get(name, _MISSING)
                if value is _MISSING:
                    return False
            if tag == "string":
                if value != expected or not isinstance(value, str):
                    return False
            elif tag == "number":
                if isinstance(value, bool) or not isinstance(value, int | float):
                    return False
                if value != expected:
                    return False
            elif tag == "bool":
                if value is not expected:
                    return False
            elif value is not None:
                return False
        return True

    def as_dict(self) -> dict[str, Scalar]:
        """The filter as the client would write it with dotted names (for answers, /stats)."""
        return {".".join(path): value for path, _, value in self.key}


_MISSING: Any = object()
