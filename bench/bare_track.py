"""The metrics baseline: a bare FastAPI route that receives and parses the same batch body."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/metrics/track")
async def track(request: Request) -> dict[str, int]:
    """Parse the JSON batch and answer its size: what any ingestion must at least do."""
    body = orjson.loads(await request.body())
    return {"accepted": len(body["samples"]), "refused": 0}
