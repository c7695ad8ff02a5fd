"""DirectRoute: a route documented by FastAPI like any other, served without its solver.

FastAPI answers each request of an ``APIRoute`` through ``solve_dependencies``: it
classifies every parameter, validates each against its field and builds the keyword
arguments, which on a small route costs more than the route's own work (a seventh of
``/auth/verify`` with a repeated token, profiled under wrk: docs/benchmarks.md). A
:class:`DirectRoute` keeps the ``APIRoute`` FastAPI documents (OpenAPI is unchanged) but
calls its endpoint straight from the ``Request``, which only fits endpoints that need no
solving: parameters limited to the ``Request``, string path parameters and optional
string headers, no
dependencies, and a ``Response`` returned (nothing to validate or serialise again).
Anything else is refused when the app is built, not discovered per request.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import params
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["DirectRoute"]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _header_names(dependant: Dependant, where: str) -> tuple[tuple[str, str], ...]:
    """(parameter, header) pairs of a dependant that needs nothing but headers and Request."""
    solved = (
        dependant.dependencies,
        dependant.query_params,
        dependant.cookie_params,
        dependant.body_params,
    )
    if any(solved) or dependant.background_tasks_param_name or dependant.response_param_name:
        raise TypeError(f"{where}: a DirectRoute takes Request, str path params, optional headers")
    for field in dependant.path_params:
        if field.field_info.annotation is not str:
            raise TypeError(f"{where}: path parameter {field.name!r} must be `str`")
    names = []
    for field in dependant.header_params:
        info = field.field_info
        if not isinstance(info, params.Header) or field.field_info.annotation != str | None:
            raise TypeError(f"{where}: header {field.name!r} must be `str | None`")
        if info.default is not None:
            raise TypeError(f"{where}: header {field.name!r} must default to None")
        names.append((field.name, field.alias.lower()))
    return tuple(names)


class DirectRoute(APIRoute):
    """An ``APIRoute`` whose endpoint is called with the Request and its headers, unsolved.

    Register with ``route_class_override=DirectRoute`` (or an ``APIRouter(route_class=…)``).
    The endpoint returns a ``Response``; ``response_model`` is for the documentation only.
    Errors it raises reach the app's handlers as from any route.
    """

    def _effective_dependant(self) -> Dependant:
        # A route of an included router is built once per inclusion, with that
        # inclusion's dependencies added; FastAPI passes the inclusion in a ContextVar.
        # Reading it means an inclusion's dependencies are refused, never skipped.
        var = getattr(fastapi_routing, "_effective_route_context_var", None)
        context = var.get() if var is not None else None
        if context is not None and getattr(context, "original_route", None) is self:
            dependant: Dependant = context.dependant
            return dependant
        return self.dependant

    def get_route_handler(self) -> Handler:
        """The endpoint, called with the Request, its path parameters and each header (or None)."""
        dependant = self._effective_dependant()
        names = _header_names(dependant, self.path)
        request_name = dependant.request_param_name
        path_names = tuple(field.name for field in dependant.path_params)
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            kwargs: dict[str, Any] = {}
            if names:
                headers = request.headers
                for name, header in names:
                    kwargs[name] = headers.get(header)
            if request_name is not None:
                kwargs[request_name] = request
            if path_names:
                params = request.path_params
                for name in path_names:
                    kwargs[name] = params[name]
            response = await endpoint(**kwargs)
            if not isinstance(response, Response):
                raise TypeError(f"{self.path}: a DirectRoute endpoint returns a Response")
            return response

        return handle
