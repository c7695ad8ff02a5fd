"""FastAPI dependencies of the streaming routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from access_streaming.runtime import StreamingRuntime

__all__ = ["RuntimeDep", "get_runtime"]


async def get_runtime(connection: HTTPConnection) -> StreamingRuntime:
    """The runtime the lifespan stored on the app (HTTP and WebSocket routes alike)."""
    runtime: StreamingRuntime = connection.app.state.streaming
    return runtime


RuntimeDep = Annotated[StreamingRuntime, Depends(get_runtime)]
