from __future__ import annotations

import pytest

from access_streaming.errors import FilterInvalid
from access_streaming.fanout import parse_filters


def test_top_level_dotted_and_nested_equality() -> None:
    flt = parse_filters({"commodity": "oil", "meta.venue": "ICE", "meta": {"tier": 1}})
    assert flt is not None
    assert flt.matches({"commodity": "oil", "meta": {"venue": "ICE", "tier": 1}, "x": 2})
    assert not flt.matches({"commodity": "oil", "meta": {"venue": "ICE", "tier": 2}})
    assert not flt.matches({"commodity": "oil", "meta": "ICE"})
    assert not flt.matches({"commodity": "oil"})
    assert not flt.matches([1, 2])
    assert flt.as_dict() == {"commodity": "oil", "meta.tier": 1, "meta.venue": "ICE"}


def test_types_are_json_types() -> None:
    assert parse_filters({"a": 1}).matches({"a": 1.0})  # type: ignore[union-attr]
    assert not parse_filters({"a": 1}).matches({"a": True})  # type: ignore[union-attr]
    assert not parse_filters({"a": True}).matches({"a": 1})  # type: ignore[union-attr]
    assert parse_filters({"a": None}).matches({"a": None})  # type: ignore[union-attr]
    assert not parse_filters({"a": None}).matches({})  # type: ignore[union-attr]
    assert not parse_filters({"a": "1"}).matches({"a": 1})  # type: ignore[union-attr]


def test_equal_filters_share_a_key() -> None:
    one = parse_filters({"b": 2, "a": "x"})
    two = parse_filters({"a": "x", "b": 2})
    assert one is not None and two is not None
    assert one.key == two.key
    assert parse_filters({}) is None
    assert parse_filters(None) is None


@pytest.mark.parametrize(
    "raw",
    [
        [1],
        "oil",
        {"a": [1]},
        {"a": {"b": [1]}},
        {"": 1},
        {"a..b": 1},
        {"a": "x" * 300},
        {"a": float("nan")},
        {f"f{i}": i for i in range(17)},
        {"a.b.c.d.e.f.g.h.i": 1},
        {"a.b": 1, "a": {"b": 2}},
    ],
)
def test_invalid_filters(raw: object) -> None:
    with pytest.raises(FilterInvalid):
        parse_filters(raw)
