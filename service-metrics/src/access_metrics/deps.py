"""FastAPI dependencies of the metrics service, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from access_metrics.runtime import MetricsRuntime

__all__ = ["RuntimeDep", "runtime_of"]


def runtime_of(request: Request) -> MetricsRuntime:
    """The runtime the app factory stored on the app."""
    runtime: MetricsRuntime = request.app.state.metrics_runtime
    return runtime


async def get_runtime(request: Request) -> MetricsRuntime:
    """The runtime, as a dependency."""
    return runtime_of(request)


RuntimeDep = Annotated[MetricsRuntime, Depends(get_runtime)]
