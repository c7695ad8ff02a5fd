"""Route table: the built-in file, matching, query validation, file errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from access_common.errors import MethodNotAllowed, NotFound, ValidationFailed
from access_gateway.routing.table import RouteTable, RouteTableError

VARS = {"ACCESS_PROJECTION_SERVICE_URL": "http://projection.test"}


def builtin() -> RouteTable:
    return RouteTable.load(None, VARS)


def test_the_builtin_table_has_the_issue_routes() -> None:
    table = builtin()
    assert {(r.spec.method, r.path) for r in table.routes} == {
        ("GET", "/api/v1/instruments"),
        ("GET", "/api/v1/instruments/{id}"),
        ("GET", "/api/v1/curves/{curve_id}"),
        ("POST", "/api/v1/curves/bulk"),
        ("POST", "/api/v1/curves/recompute"),
        ("GET", "/api/v1/prices/latest"),
        ("POST", "/api/v1/cache/warm"),
    }
    assert table.upstreams["projection"].url == "http://projection.test"
    assert table.tiers == {"authenticated", "heavy", "cache_writes"}


def test_match_prefers_literal_segments_and_encodes_params() -> None:
    table = builtin()
    route, params = table.match("POST", "/api/v1/curves/bulk")
    assert route.id == "curves.bulk"
    route, params = table.match("GET", "/api/v1/curves/NG HH")
    assert (route.id, params) == ("curves.get", {"curve_id": "NG HH"})
    assert route.upstream_path(params) == "/curves/NG%20HH"
    assert route.resource(params) == "curve:NG HH"
    with pytest.raises(NotFound):
        table.match("GET", "/api/v1/curves/a/b")
    with pytest.raises(MethodNotAllowed) as info:
        table.match("PUT", "/api/v1/curves/x")
    assert info.value.headers["Allow"] == "GET"


def test_query_validation() -> None:
    route, _ = builtin().match("GET", "/api/v1/instruments")
    assert route.query([]) == {"page": 1, "limit": 50}
    assert route.query([("page", "3"), ("filters", "commodity:gas")])["page"] == 3
    for bad in ([("page", "0")], [("limit", "x")], [("filters", "nope")], [("x", "1")],
                [("page", "1"), ("page", "2")]):  # fmt: skip
        with pytest.raises(ValidationFailed):
            route.query(bad)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("routes: [{id: a, path: /api/v1/x, upstream: nowhere}]")
    with pytest.raises(RouteTableError, match="unknown upstream"):
        RouteTable.load(path, VARS)
    path.write_text("routes: [")
    with pytest.raises(RouteTableError, match="not valid YAML"):
        RouteTable.load(path, VARS)
    path.write_text("upstreams: {u: {url: '${NOT_SET_ANYWHERE}'}}\nroutes: []")
    with pytest.raises(RouteTableError, match="NOT_SET_ANYWHERE"):
        RouteTable.load(path, {})
    with pytest.raises(RouteTableError, match="cannot read"):
        RouteTable.load(tmp_path / "absent.yaml", VARS)
    path.write_text(
        "upstreams: {u: {url: 'http://u'}}\n"
        "routes: [{id: a, path: '/api/v1/x/{id}', upstream: u,"
        " entitlement: {action: read, resource: 'x:{other}'}}]"
    )
    with pytest.raises(RouteTableError, match="unknown parameter"):
        RouteTable.load(path, VARS)
