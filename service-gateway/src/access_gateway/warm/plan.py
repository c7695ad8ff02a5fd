"""The hot served queries file and the warm plan made from it for one tenant."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from access_common.errors import AccessError
from access_gateway.cache.keys import cache_key
from access_gateway.routing.table import CompiledRoute, RouteTable

__all__ = ["BUILTIN_HOT_QUERIES", "HotQueriesError", "WarmItem", "load_hot_queries", "plan"]

BUILTIN_HOT_QUERIES = Path(__file__).with_name("hot_served_queries.json")


class HotQueriesError(ValueError):
    """The hot queries file is unreadable or invalid."""


class HotQuery(BaseModel):
    """One ranked query: a route of the table, its path parameters and query."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    route: str
    path_params: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str | int | float | bool] = Field(default_factory=dict)
    weight: float = Field(default=0.0, ge=0)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    queries: list[HotQuery]


@dataclass(frozen=True, slots=True)
class WarmItem:
    """One entry to warm: the route, the request it stands for and its cache key."""

    route: CompiledRoute
    path: str
    upstream_path: str
    query: dict[str, str | int | float | bool]
    key: str
    weight: float


def load_hot_queries(path: Path | None) -> list[HotQuery]:
    """The queries of a file (the built-in one when None), heaviest first."""
    source = path or BUILTIN_HOT_QUERIES
    try:
        parsed = _File.model_validate_json(source.read_bytes())
    except OSError as exc:
        raise HotQueriesError(f"{source}: cannot read ({exc.strerror})") from None
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HotQueriesError(f"{source}: {where}: {first['msg']}") from None
    return sorted(parsed.queries, key=lambda q: q.weight, reverse=True)


def plan(
    queries: list[HotQuery], table: RouteTable, *, tenant: str, user: str
) -> tuple[list[WarmItem], list[dict[str, str]]]:
    """The items to warm for a tenant, and the queries that cannot be (with why)."""
    by_id = {route.id: route for route in table.routes}
    items: list[WarmItem] = []
    problems: list[dict[str, str]] = []
    for query in queries:
        route = by_id.get(query.route)
        if route is None or route.spec.cache is None or route.spec.method != "GET":
            problems.append({"route": query.route, "error": "not a cached GET route"})
            continue
        try:
            path = _render(route, query.path_params)
            values = route.query([(k, _text(v)) for k, v in query.query.items()])
        except (KeyError, ValueError, AccessError) as exc:
            problems.append({"route": query.route, "error": f"invalid query: {exc}"})
            continue
        key = cache_key(
            tenant=tenant,
            route_id=route.id,
            method="GET",
            path=path,
            query=values,
            user=user if route.spec.cache.per_user else None,
        )
        items.append(
            WarmItem(route, path, route.upstream_path(query.path_params), values, key, query.weight)
        )
    return items, problems


def _render(route: CompiledRoute, params: dict[str, str]) -> str:
    path = route.path
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    if route.pattern.match(path) is None:
        raise ValueError(f"path parameters do not fit {route.path}")
    return path


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
