"""GET /metrics: this service's own metrics, then the pushed series (when this replica exports)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from starlette.responses import Response

from access_metrics.deps import RuntimeDep
from access_metrics.exposition.render import OPENMETRICS, TEXT, Renderer, wants_openmetrics

__all__ = ["metrics_router"]

_EOF = b"# EOF\n"


def metrics_router() -> APIRouter:
    """The scrape route, with its renderer (which caches escaped label sets)."""
    router = APIRouter(tags=["observability"])
    renderer = Renderer()

    @router.get(
        "/metrics",
        summary="Prometheus metrics (OpenMetrics when the Accept header asks for it)",
        response_class=Response,
        responses={200: {"content": {TEXT: {}, OPENMETRICS: {}}}},
    )
    async def prometheus(request: Request, runtime: RuntimeDep) -> Response:
        states, exporting = await runtime.snapshot()
        runtime.own.observe_states(states, exporting)
        registry = runtime.own.registry
        if wants_openmetrics(request.headers.get("accept")):
            own = generate_openmetrics(registry).removesuffix(_EOF)  # type: ignore[no-untyped-call]
            pushed = renderer.render(states, openmetrics=True).encode()
            return Response(own + pushed + _EOF, media_type=OPENMETRICS)
        pushed = renderer.render(states, openmetrics=False).encode()
        return Response(generate_latest(registry) + pushed, media_type=TEXT)

    return router
