"""Resource names and patterns: what is accepted, what each malformed input answers."""

from __future__ import annotations

import pytest

from access_entitlements.errors import InvalidResource, InvalidResourcePattern
from access_entitlements.rules.patterns import compile_pattern, parse_resource


@pytest.mark.parametrize(
    ("text", "prefix", "exact"),
    [
        ("curve:*", "curve:", False),
        ("topic:pricing.*", "topic:pricing.", False),
        ("instrument:BRENT_*", "instrument:BRENT_", False),
        ("instrument:BRENT_M1", "instrument:BRENT_M1", True),
        ("*", "", False),
    ],
)
def test_patterns_compile_to_a_prefix_or_an_exact_name(text: str, prefix: str, exact: bool) -> None:
    pattern = compile_pattern(text)
    assert (pattern.prefix, pattern.exact) == (prefix, exact)


@pytest.mark.parametrize(
    "text",
    ["", "curve", "curve:", "*:x", "curve:*x", "curve:a*b", "Curve:x", "curve:a b", "**", ":x",
     "curve:**", "x" * 300],
)  # fmt: skip
def test_malformed_patterns_are_refused(text: str) -> None:
    with pytest.raises(InvalidResourcePattern) as info:
        compile_pattern(text)
    assert info.value.status == 422


def test_matching_by_prefix_and_exact() -> None:
    assert compile_pattern("topic:pricing.*").matches("topic:pricing.curve.updates.v1")
    assert not compile_pattern("topic:pricing.*").matches("topic:market.data.updates.v1")
    assert compile_pattern("curve:NG_HH").matches("curve:NG_HH")
    assert not compile_pattern("curve:NG_HH").matches("curve:NG_HH2")


@pytest.mark.parametrize(
    "resource", ["", "curve", "curve:", "curve:*", "CURVE:x", "curve:a b", "*"]
)
def test_checked_resources_must_be_kind_and_id(resource: str) -> None:
    with pytest.raises(InvalidResource):
        parse_resource(resource)
    assert parse_resource("topic:pricing.curve.updates.v1") == "topic:pricing.curve.updates.v1"
