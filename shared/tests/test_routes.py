"""DirectRoute: documented like an APIRoute, served without FastAPI's solver, strict at build."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.routing import APIRoute

from access_common.app import build_app
from access_common.errors import Forbidden
from access_common.responses import JsonBytesResponse
from access_common.routes import DirectRoute
from access_common.settings import ServiceSettings


async def echo(
    request: Request,
    authorization: Annotated[str | None, Header(description="a credential")] = None,
    x_tenant: Annotated[str | None, Header()] = None,
) -> JsonBytesResponse:
    """Echo the headers the route was given."""
    if authorization == "deny":
        raise Forbidden("no", code="ECHO_DENIED")
    body = {"authorization": authorization, "tenant": x_tenant, "path": request.url.path}
    return JsonBytesResponse(body)


def _router(route_class: type[APIRoute]) -> APIRouter:
    router = APIRouter(prefix="/x", tags=["x"])
    router.add_api_route(
        "/echo",
        echo,
        methods=["POST"],
        response_model=dict[str, Any],
        route_class_override=route_class,
    )
    return router


def _app(route_class: type[APIRoute]) -> FastAPI:
    settings = ServiceSettings(env="test")
    return build_app(settings, service="t", title="t", routers=[_router(route_class)])


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")


async def test_the_endpoint_gets_the_request_and_each_header_or_none() -> None:
    async with _client(_app(DirectRoute)) as client:
        both = await client.post("/x/echo", headers={"Authorization": "a", "X-Tenant": "t1"})
        none = await client.post("/x/echo")
    assert both.status_code == 200
    assert both.json() == {"authorization": "a", "tenant": "t1", "path": "/x/echo"}
    assert none.json() == {"authorization": None, "tenant": None, "path": "/x/echo"}
    assert both.headers["x-request-id"]


async def test_errors_reach_the_apps_handlers_in_the_error_model() -> None:
    async with _client(_app(DirectRoute)) as client:
        denied = await client.post("/x/echo", headers={"Authorization": "deny"})
        wrong_method = await client.get("/x/echo")
    assert denied.status_code == 403
    assert denied.json()["code"] == "ECHO_DENIED"
    assert denied.json()["trace_id"]
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"


def test_openapi_is_the_one_an_apiroute_gets() -> None:
    assert _app(DirectRoute).openapi() == _app(APIRoute).openapi()


async def _with_query(q: str | None = None) -> JsonBytesResponse:
    return JsonBytesResponse({})


async def _required_header(x_a: Annotated[str, Header()]) -> JsonBytesResponse:
    return JsonBytesResponse({})


async def _int_header(x_a: Annotated[int | None, Header()] = None) -> JsonBytesResponse:
    return JsonBytesResponse({})


async def _int_path(n: int) -> JsonBytesResponse:
    return JsonBytesResponse({})


async def _dependency() -> str:
    return "x"


async def _with_dependency(value: Annotated[str, Depends(_dependency)]) -> JsonBytesResponse:
    return JsonBytesResponse({})


@pytest.mark.parametrize(
    "endpoint", [_with_query, _required_header, _int_header, _int_path, _with_dependency]
)
def test_an_endpoint_that_needs_solving_is_refused_at_build(endpoint: Any) -> None:
    router = APIRouter()
    path = "/e/{n}" if endpoint is _int_path else "/e"
    with pytest.raises(TypeError, match=r"DirectRoute|header|path"):
        router.add_api_route(path, endpoint, route_class_override=DirectRoute)


def test_an_inclusion_with_dependencies_is_refused_not_skipped() -> None:
    app = FastAPI()
    with pytest.raises(TypeError, match="DirectRoute"):
        app.include_router(_router(DirectRoute), dependencies=[Depends(_dependency)])
        # Built lazily by some FastAPI versions: the first lookup builds every route.
        app.openapi()
        list(app.router.routes[-1].effective_route_contexts())  # type: ignore[attr-defined]


async def test_a_non_response_return_is_an_internal_error() -> None:
    async def plain() -> dict[str, str]:
        return {"a": "b"}

    router = APIRouter()
    router.add_api_route("/plain", plain, route_class_override=DirectRoute)
    app = build_app(ServiceSettings(env="test"), service="t", title="t", routers=[router])
    async with _client(app) as client:
        answer = await client.get("/plain")
    assert answer.status_code == 500
    assert answer.json()["code"] == "INTERNAL_ERROR"


async def test_string_path_parameters_reach_the_endpoint() -> None:
    async def item(name: str, part: str, request: Request) -> JsonBytesResponse:
        return JsonBytesResponse({"name": name, "part": part, "path": request.url.path})

    router = APIRouter()
    router.add_api_route(
        "/items/{name}/{part}", item, methods=["GET"], route_class_override=DirectRoute
    )
    app = build_app(ServiceSettings(env="test"), service="t", title="t", routers=[router])
    async with _client(app) as client:
        answer = await client.get("/items/a%20b/c")
    assert answer.json() == {"name": "a b", "part": "c", "path": "/items/a b/c"}
