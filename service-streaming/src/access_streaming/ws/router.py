"""``GET /ws/stream?token=<jwt>``: the WebSocket endpoint."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from access_streaming.deps import RuntimeDep
from access_streaming.ws.service import serve_websocket

__all__ = ["router"]

router = APIRouter(tags=["websocket"])


@router.websocket("/ws/stream")
async def ws_stream(websocket: WebSocket, runtime: RuntimeDep) -> None:
    """Seed 003's WebSocket protocol (docs/streaming.md)."""
    await serve_websocket(runtime, websocket)
