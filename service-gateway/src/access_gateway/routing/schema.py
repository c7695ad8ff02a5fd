"""The route table file's shape: upstreams and routes, validated when the file is read."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BreakerPolicy",
    "CachePolicy",
    "EntitlementRule",
    "QueryParam",
    "RouteSpec",
    "RouteTableFile",
    "UpstreamSpec",
]

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def template_names(template: str) -> set[str]:
    """The ``{name}`` placeholders of a path or resource template."""
    return set(_PARAM.findall(template))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BreakerPolicy(_Strict):
    """Open after this many consecutive failures; let one probe through after the pause."""

    failure_threshold: int = Field(default=5, ge=1, le=1000)
    reset_seconds: float = Field(default=10.0, gt=0, le=600)


class UpstreamSpec(_Strict):
    """An HTTP service the gateway forwards to."""

    url: str = Field(pattern=r"^https?://")
    health_path: str = "/health/live"
    max_concurrency: int = Field(default=64, ge=1, le=10_000)
    max_queue: int = Field(default=256, ge=0, le=100_000)
    retries: int = Field(default=1, ge=0, le=3)
    breaker: BreakerPolicy = BreakerPolicy()


class EntitlementRule(_Strict):
    """The action and resource asked of the entitlements service.

    ``resource`` is a template over the route's path parameters. With ``each`` set, the
    request body's JSON field of that name must be a list, and every item is checked
    (``{item}`` in the template), all in one batch call.
    """

    action: str = Field(min_length=1, max_length=64)
    resource: str = Field(min_length=1, max_length=256)
    each: str | None = None
    max_items: int = Field(default=100, ge=1, le=1000)


class CachePolicy(_Strict):
    """How long answers of a route are served from cache.

    The TTL adapts between ``ttl_min`` and ``ttl_max`` (seed 001 §15): longer while the
    route is busy and its upstream healthy, shorter under errors or low traffic. An entry
    is served stale for ``stale_seconds`` more while one refresh runs or the upstream fails.
    """

    ttl_min: float = Field(default=10.0, gt=0, le=3600)
    ttl_max: float = Field(default=60.0, gt=0, le=3600)
    stale_seconds: float = Field(default=300.0, ge=0, le=86_400)
    per_user: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ttl_min > self.ttl_max:
            raise ValueError("ttl_min must not exceed ttl_max")
        return self


class QueryParam(_Strict):
    """One accepted query parameter; anything undeclared is refused (422)."""

    type: Literal["string", "integer", "number", "boolean"] = "string"
    required: bool = False
    default: str | int | float | bool | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = Field(default=256, ge=1, le=4096)
    pattern: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _pattern_compiles(self) -> Self:
        if self.pattern is not None:
            re.compile(self.pattern)
        return self


class RouteSpec(_Strict):
    """One route: who may call it, how fast, whether it is cached, where it goes."""

    id: str = Field(pattern=r"^[a-z0-9_.-]+$")
    method: Method = "GET"
    path: str = Field(pattern=r"^/api/v[0-9]+(/[A-Za-z0-9_.{}-]+)+$")
    upstream: str
    upstream_path: str | None = None
    auth: bool = True
    roles_any: tuple[str, ...] = ()
    entitlement: EntitlementRule | None = None
    tier: str = "authenticated"
    cache: CachePolicy | None = None
    timeout_seconds: float = Field(default=2.0, gt=0, le=120)
    query: dict[str, QueryParam] = Field(default_factory=dict)
    expose_headers: tuple[str, ...] = ()
    summary: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        params = template_names(self.path)
        if self.upstream_path is not None and not template_names(self.upstream_path) <= params:
            raise ValueError(f"{self.id}: upstream_path uses a parameter the path lacks")
        if self.entitlement is not None:
            allowed = params | ({"item"} if self.entitlement.each else set())
            if not template_names(self.entitlement.resource) <= allowed:
                raise ValueError(f"{self.id}: entitlement resource uses an unknown parameter")
            if self.entitlement.each and self.method == "GET":
                raise ValueError(f"{self.id}: 'each' reads the body, so the route cannot be GET")
            if not self.auth:
                raise ValueError(f"{self.id}: an entitlement needs auth: true")
        if self.roles_any and not self.auth:
            raise ValueError(f"{self.id}: roles_any needs auth: true")
        if self.cache is not None and self.cache.per_user and not self.auth:
            raise ValueError(f"{self.id}: a per-user cache needs auth: true")
        return self


class RouteTableFile(_Strict):
    """The whole file: named upstreams and the routes that use them."""

    upstreams: dict[str, UpstreamSpec] = Field(default_factory=dict)
    routes: list[RouteSpec]

    @model_validator(mode="after")
    def _references(self) -> Self:
        seen: set[tuple[str, str]] = set()
        ids: set[str] = set()
        for route in self.routes:
            if route.id in ids:
                raise ValueError(f"duplicate route id {route.id}")
            ids.add(route.id)
            key = (route.method, _PARAM.sub("{}", route.path))
            if key in seen:
                raise ValueError(f"duplicate route {route.method} {route.path}")
            seen.add(key)
            if not route.upstream.startswith("internal:") and route.upstream not in self.upstreams:
                raise ValueError(f"{route.id}: unknown upstream {route.upstream!r}")
        return self
