"""The gateway's OpenAPI document: its own routes plus every route of the current table."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from access_gateway.routing.schema import QueryParam, RouteSpec, template_names
from access_gateway.routing.table import RouteTable
from access_gateway.runtime import GatewayRuntime

__all__ = ["install_openapi"]

_ERROR = {"$ref": "#/components/schemas/ErrorBody"}
_RATE_HEADERS = {
    name: {"description": text, "schema": {"type": "integer"}}
    for name, text in (
        ("RateLimit-Limit", "requests allowed in the tier's window"),
        ("RateLimit-Remaining", "requests left in the window"),
        ("RateLimit-Reset", "seconds until the window resets"),
    )
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _parameter(name: str, param: QueryParam) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": param.type}
    if param.minimum is not None:
        schema["minimum"] = param.minimum
    if param.maximum is not None:
        schema["maximum"] = param.maximum
    if param.pattern is not None:
        schema["pattern"] = param.pattern
    if param.type == "string":
        schema["maxLength"] = param.max_length
    if param.default is not None:
        schema["default"] = param.default
    return {
        "name": name,
        "in": "query",
        "required": param.required,
        "description": param.description,
        "schema": schema,
    }


def _operation(spec: RouteSpec) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in sorted(template_names(spec.path))
    ]
    parameters += [_parameter(name, param) for name, param in spec.query.items()]
    headers = dict(_RATE_HEADERS)
    if spec.cache is not None:
        headers["X-Cache"] = {
            "description": "HIT, MISS or STALE",
            "schema": {"type": "string", "enum": ["HIT", "MISS", "STALE"]},
        }
    for name in spec.expose_headers:
        headers[name] = {"description": "from the upstream", "schema": {"type": "string"}}
    headers["Server-Timing"] = {"description": "time per stage", "schema": {"type": "string"}}
    responses: dict[str, Any] = {
        "200": {"description": "The upstream's answer", "headers": headers},
        "404": _error("No such route or resource"),
        "422": _error("Invalid query, path or body (VALIDATION_FAILED)"),
        "429": _error("Tier budget spent (RATE_LIMITED); see Retry-After"),
        "502": _error("UPSTREAM_UNREACHABLE, UPSTREAM_ERROR or UPSTREAM_BAD_RESPONSE"),
        "503": _error(
            "UPSTREAM_CIRCUIT_OPEN, UPSTREAM_SATURATED, AUTH_ or ENTITLEMENTS_UNAVAILABLE"
        ),
        "504": _error("UPSTREAM_TIMEOUT"),
    }
    if spec.auth:
        responses["401"] = _error("Token missing or refused (TOKEN_* codes)")
        responses["403"] = _error("ENTITLEMENT_DENIED, TENANT_MISSING or ROLE_REQUIRED")
    details = [f"Tier `{spec.tier}`", f"timeout {spec.timeout_seconds:g} s"]
    if spec.entitlement is not None:
        details.append(f"entitlement `{spec.entitlement.action}` on `{spec.entitlement.resource}`")
    if spec.cache is not None:
        details.append(f"cached {spec.cache.ttl_min:g}-{spec.cache.ttl_max:g} s")
    operation: dict[str, Any] = {
        "operationId": spec.id,
        "summary": spec.summary or spec.id,
        "description": (spec.description + "\n\n" if spec.description else "") + "; ".join(details),
        "tags": list(spec.tags) or ["api"],
        "parameters": parameters,
        "responses": responses,
    }
    if spec.method != "GET":
        operation["requestBody"] = {
            "required": spec.entitlement is not None and spec.entitlement.each is not None,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    if spec.auth:
        operation["security"] = [{"bearer": []}]
    return operation


def table_paths(table: RouteTable) -> dict[str, dict[str, Any]]:
    """OpenAPI ``paths`` for the routes of a table."""
    paths: dict[str, dict[str, Any]] = {}
    for route in table.routes:
        paths.setdefault(route.path, {})[route.spec.method.lower()] = _operation(route.spec)
    return paths


def install_openapi(app: FastAPI, runtime: GatewayRuntime) -> None:
    """Make ``/openapi.json`` describe the table, rebuilt after each reload."""
    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if built.get("generation") == runtime.generation and "schema" in built:
            schema: dict[str, Any] = built["schema"]
            return schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schema.setdefault("paths", {}).update(table_paths(runtime.routes))
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
        }
        built.update(generation=runtime.generation, schema=schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
