"""FastAPI dependencies of the metrics service, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from access_metrics.runtime import MetricsRuntime

__all__ = ["RuntimeDep"]


async def get_runtime(request: Request) -> MetricsRuntime:
    """The runtime the app factory stored on the app."""
    runtime: MetricsRuntime = request.app.state.metrics_runtime
    return runtime


RuntimeDep = Annotated[MetricsRuntime, Depends(get_runtime)]
