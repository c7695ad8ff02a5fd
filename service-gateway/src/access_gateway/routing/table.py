"""The compiled route table: match a request to its route and validate its query.

A table is immutable once built; a reload builds a new one and swaps the reference, so
a request in flight keeps the table it started with and nothing is dropped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from access_common.errors import MethodNotAllowed, NotFound, ValidationFailed
from access_gateway.config.files import ConfigFileError, load_yaml_model
from access_gateway.routing.schema import (
    QueryParam,
    RouteSpec,
    RouteTableFile,
    UpstreamSpec,
    template_names,
)

__all__ = ["BUILTIN_ROUTES", "CompiledRoute", "RouteTable", "RouteTableError"]

BUILTIN_ROUTES = Path(__file__).with_name("routes.yaml")

_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
_MAX_PARAM = 256
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class RouteTableError(ValueError):
    """The route table file is unreadable or invalid; the message says where."""


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    """A route with its path regex; ``path`` is the template (used as the metrics label)."""

    spec: RouteSpec
    pattern: re.Pattern[str]
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The route template, e.g. ``/api/v1/curves/{curve_id}``."""
        return self.spec.path

    @property
    def id(self) -> str:
        """The route id."""
        return self.spec.id

    def upstream_path(self, params: Mapping[str, str]) -> str:
        """The path to call upstream, parameters percent-encoded."""
        template = self.spec.upstream_path or self.spec.path
        return _render(template, {k: quote(v, safe="") for k, v in params.items()})

    def resource(self, params: Mapping[str, str], item: str | None = None) -> str:
        """The entitlement resource for these path parameters (and body item)."""
        assert self.spec.entitlement is not None  # noqa: S101 - callers check
        values = dict(params)
        if item is not None:
            values["item"] = item
        return _render(self.spec.entitlement.resource, values)

    def query(self, raw: list[tuple[str, str]]) -> dict[str, str | int | float | bool]:
        """The validated query, defaults filled in; 422 on unknown or bad parameters."""
        declared = self.spec.query
        values: dict[str, str | int | float | bool] = {}
        errors: list[dict[str, Any]] = []
        for name, text in raw:
            param = declared.get(name)
            if param is None:
                errors.append(_error(name, "unknown query parameter", "extra_forbidden"))
            elif name in values:
                errors.append(_error(name, "given more than once", "duplicate"))
            else:
                try:
                    values[name] = _coerce(text, param, self.patterns.get(name))
                except ValueError as exc:
                    errors.append(_error(name, str(exc), "value_error"))
        for name, param in declared.items():
            if name in values:
                continue
            if param.required:
                errors.append(_error(name, "required", "missing"))
            elif param.default is not None:
                values[name] = param.default
        if errors:
            raise ValidationFailed(details={"errors": errors})
        return values


def _error(name: str, msg: str, kind: str) -> dict[str, Any]:
    return {"loc": ["query", name], "msg": msg, "type": kind}


def _coerce(
    text: str, param: QueryParam, pattern: re.Pattern[str] | None
) -> str | int | float | bool:
    if len(text) > param.max_length:
        raise ValueError(f"longer than {param.max_length} characters")
    value: str | int | float | bool
    if param.type == "integer":
        try:
            value = int(text)
        except ValueError:
            raise ValueError("not an integer") from None
    elif param.type == "number":
        try:
            value = float(text)
        except ValueError:
            raise ValueError("not a number") from None
    elif param.type == "boolean":
        lowered = text.lower()
        if lowered not in _TRUE | _FALSE:
            raise ValueError("not a boolean")
        value = lowered in _TRUE
    else:
        if pattern is not None and not pattern.fullmatch(text):
            raise ValueError("does not match the expected format")
        value = text
    if isinstance(value, int | float) and not isinstance(value, bool):
        if param.minimum is not None and value < param.minimum:
            raise ValueError(f"must be >= {param.minimum:g}")
        if param.maximum is not None and value > param.maximum:
            raise ValueError(f"must be <= {param.maximum:g}")
    return value


def _render(template: str, values: Mapping[str, str]) -> str:
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: values[m.group(1)], template)


def _compile(spec: RouteSpec) -> CompiledRoute:
    regex = "^"
    position = 0
    for match in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", spec.path):
        regex += re.escape(spec.path[position : match.start()])
        regex += f"(?P<{match.group(1)}>[^/]{{1,{_MAX_PARAM}}})"
        position = match.end()
    regex += re.escape(spec.path[position:]) + "$"
    patterns = {
        name: re.compile(param.pattern)
        for name, param in spec.query.items()
        if param.pattern is not None
    }
    return CompiledRoute(spec, re.compile(regex), patterns)


class RouteTable:
    """The routes and upstreams of one version of the table file."""

    def __init__(self, spec: RouteTableFile, *, source: str = "built-in") -> None:
        self.spec = spec
        self.source = source
        self.routes = tuple(_compile(route) for route in spec.routes)
        self.upstreams: dict[str, UpstreamSpec] = dict(spec.upstreams)
        # Literal routes first, so /curves/bulk wins over /curves/{curve_id}.
        self._ordered = sorted(self.routes, key=lambda r: len(template_names(r.path)))

    @property
    def tiers(self) -> set[str]:
        """The rate-limit tiers the routes name."""
        return {route.spec.tier for route in self.routes}

    def match(self, method: str, path: str) -> tuple[CompiledRoute, dict[str, str]]:
        """The route and path parameters of a request; 404 or 405 in the error model."""
        allowed: list[str] = []
        for route in self._ordered:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.spec.method == method:
                return route, found.groupdict()
            allowed.append(route.spec.method)
        if allowed:
            raise MethodNotAllowed(
                details={"allowed": sorted(set(allowed))},
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
        raise NotFound(f"No route for {path}", details={"path": path})

    @classmethod
    def load(cls, path: Path | None, variables: Mapping[str, str]) -> RouteTable:
        """Read and validate a table file (the built-in one when ``path`` is None)."""
        source = path or BUILTIN_ROUTES

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            value = variables.get(name, os.environ.get(name))
            if value is None:
                raise RouteTableError(f"{source}: ${{{name}}} is not set")
            return value

        def walk(node: Any) -> Any:
            # Substituted in values only, after parsing: comments and keys stay as written.
            if isinstance(node, str):
                return _VARIABLE.sub(substitute, node)
            if isinstance(node, list):
                return [walk(item) for item in node]
            if isinstance(node, dict):
                return {key: walk(value) for key, value in node.items()}
            return node

        try:
            spec = load_yaml_model(source, RouteTableFile, transform=walk)
        except ConfigFileError as exc:
            raise RouteTableError(str(exc)) from None
        return cls(spec, source=str(source))
