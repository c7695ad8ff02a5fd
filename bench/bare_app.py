"""The baseline: a bare FastAPI route with no platform middleware, served the same way."""

from __future__ import annotations

from fastapi import FastAPI, Header, Request
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


@app.post("/webhook/{source}", status_code=202)
async def webhook(source: str, request: Request) -> dict[str, str]:
    """Read the body and answer 202: the floor under the signed webhook route."""
    body = await request.body()
    return {"status": "accepted", "source": source, "size": str(len(body))}
