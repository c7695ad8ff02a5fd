"""Stand-ins for the gateway benchmark: an always-allow entitlements service and a bare route.

The real entitlements service answers from its own cache; in the cached and uncached
rows the gateway asks it once and then keeps the decision for its TTL, so a stub that
allows everything measures the same path.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from access_gateway.dev_projection import data

app = FastAPI()

_INSTRUMENT = data.INSTRUMENTS[0].public()


@app.get("/health/live")
async def live() -> dict[str, str]:
    """Liveness."""
    return {"status": "ok"}


@app.post("/entitlements/check")
async def check(request: Request) -> Response:
    """Allow, for five minutes."""
    await request.body()
    body = b'{"allow":true,"ttl_seconds":300,"reason":"bench","rule_id":"b","policy_version":1}'
    return Response(body, media_type="application/json")


@app.get("/bare/instruments/{instrument_id}")
async def bare(instrument_id: str) -> dict[str, object]:
    """The baseline: what FastAPI + uvicorn cost for a body like the gateway's answer."""
    return {"tenant_id": "tenant-a", **_INSTRUMENT, "id": instrument_id}
