"""The plain Python fan-out baseline, copied from the yardstick (``plain-baseline/server.py``).

One process, one event loop (uvicorn + uvloop + httptools, websockets protocol), seed 003
shapes: each published message is serialised once to one str and the same str is sent to
every subscriber of its topic, awaiting each send in turn; the HTTP reply comes after the
fan-out. It bounds what a plain Starlette process does on this machine; it is not the
project's service. Kept here (typed, same behaviour) so `make bench-streaming` runs without
the yardstick; ``POST /publish`` is the yardstick's path.

  WS   /ws/stream?token=ANY  -> {"type":"connection_established",...}
       <- {"action":"subscribe","data":{"topics":[...]}}  -> {"type":"subscribed",...}
       <- {"action":"unsubscribe",...} / {"action":"ping"} -> {"type":"pong"}
  POST /publish  {"topic":T,"data":{...}} or a JSON list of those
  GET  /health
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

__all__ = ["app"]

subscribers: dict[str, set[WebSocket]] = {}
_ids = itertools.count(1)


def _topics(msg: dict[str, Any]) -> list[str]:
    data = msg.get("data")
    if isinstance(data, dict) and isinstance(data.get("topics"), list):
        return [t for t in data["topics"] if isinstance(t, str)]
    if isinstance(msg.get("topics"), list):
        return [t for t in msg["topics"] if isinstance(t, str)]
    return []


async def ws_stream(ws: WebSocket) -> None:
    """One subscriber: greet, then follow its subscribe/unsubscribe/ping actions."""
    if not ws.query_params.get("token"):
        await ws.close(code=1008)
        return
    await ws.accept()
    conn_id = f"conn-{next(_ids)}"
    mine: set[str] = set()
    greeting = {
        "type": "connection_established",
        "connection_id": conn_id,
        "user_id": "anonymous",
        "tenant_id": "tenant-1",
    }
    await ws.send_text(orjson.dumps(greeting).decode())
    try:
        while True:
            raw = await ws.receive_text()
            try:
                msg = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            action = msg.get("action") if isinstance(msg, dict) else None
            if action == "subscribe":
                topics = _topics(msg)
                for t in topics:
                    subscribers.setdefault(t, set()).add(ws)
                    mine.add(t)
                await ws.send_text(orjson.dumps({"type": "subscribed", "topics": topics}).decode())
            elif action == "unsubscribe":
                for t in _topics(msg):
                    subscribers.get(t, set()).discard(ws)
                    mine.discard(t)
            elif action == "ping":
                await ws.send_text('{"type":"pong"}')
    except WebSocketDisconnect:
        pass
    finally:
        for t in mine:
            subscribers.get(t, set()).discard(ws)


async def publish(request: Request) -> Response:
    """Encode each message once and await its send to every subscriber in turn."""
    body = orjson.loads(await request.body())
    items = body if isinstance(body, list) else [body]
    delivered = 0
    for item in items:
        topic = item["topic"]
        subs = subscribers.get(topic)
        if not subs:
            continue
        text = orjson.dumps(
            {
                "type": "data",
                "topic": topic,
                "data": item["data"],
                "timestamp": int(time.time() * 1000),
            }
        ).decode()
        for ws in list(subs):
            try:
                await ws.send_text(text)
                delivered += 1
            except Exception:  # closed under us: drop it, as the yardstick's does
                subs.discard(ws)
    answer = {"published": len(items), "delivered": delivered}
    return Response(orjson.dumps(answer), media_type="application/json")


async def health(request: Request) -> Response:
    """Alive, with the subscription count."""
    n = sum(len(s) for s in subscribers.values())
    body = {"service": "pybaseline", "status": "ok", "subscriptions": n}
    return Response(orjson.dumps(body), media_type="application/json")


app = Starlette(
    routes=[
        WebSocketRoute("/ws/stream", ws_stream),
        Route("/publish", publish, methods=["POST"]),
        Route("/health", health),
    ]
)
