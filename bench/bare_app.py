"""The baseline: a bare FastAPI route with no platform middleware, served the same way."""

from __future__ import annotations

from fastapi import FastAPI, Header
from pydantic import BaseModel

app = FastAPI()


class Answer(BaseModel):
    """A body shaped like the auth principal."""

    sub: str
    tenant_id: str
    roles: list[str]


@app.post("/auth/verify")
async def verify(authorization: str = Header(default="")) -> Answer:
    """Answer at once: what FastAPI + uvicorn cost without any work."""
    return Answer(sub="bench", tenant_id="tenant-a", roles=[str(len(authorization))])
