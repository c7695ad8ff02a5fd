"""How the WebSocket protocol class finds the app's runtime: the ASGI lifespan state.

uvicorn builds its ``ws`` protocol class with ``app_state``, the dict its lifespan scope
carries as ``scope["state"]``. :class:`RuntimeLink` (an ASGI middleware on the streaming
app) puts the app's ``state`` there at start-up; :func:`runtime_of` reads the runtime the
lifespan then stored on it. Per server, so several apps in one process stay apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from access_streaming.runtime import StreamingRuntime

__all__ = ["RuntimeLink", "runtime_of"]

_KEY = "access_streaming.app_state"


class RuntimeLink:
    """Share the app's ``state`` through the lifespan state (HTTP requests pass untouched)."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Link on the lifespan scope, then carry on."""
        if scope["type"] == "lifespan" and isinstance(scope.get("state"), dict):
            scope["state"][_KEY] = self.state
        await self.app(scope, receive, send)


def runtime_of(app_state: dict[str, Any]) -> StreamingRuntime | None:
    """The running app's runtime (None before start-up finished or after shutdown)."""
    state = app_state.get(_KEY)
    runtime: StreamingRuntime | None = getattr(state, "streaming", None)
    return runtime
