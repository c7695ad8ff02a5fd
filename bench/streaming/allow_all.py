"""An entitlements stand-in that allows everything, for the streaming service under test.

The benchmark measures fan-out, not policy: the streaming service asks ``check-batch`` once
per subscribe (and remembers the answer), so a stub answering "allow" in the real service's
shape keeps the entitlements service and its database out of the run.
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["app"]

_ALLOW = {"allow": True, "ttl_seconds": 3600, "reason": "bench: allow all", "rule_id": "bench"}


def _json(body: object) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


async def check_batch(request: Request) -> Response:
    """One allow per check, in order."""
    body = orjson.loads(await request.body())
    checks = body.get("checks") if isinstance(body, dict) else None
    count = len(checks) if isinstance(checks, list) else 0
    return _json({"policy_version": 1, "decisions": [_ALLOW] * count})


async def check(request: Request) -> Response:
    """Allow."""
    return _json({**_ALLOW, "policy_version": 1})


async def health(request: Request) -> Response:
    """Alive."""
    return _json({"status": "ok"})


app = Starlette(
    routes=[
        Route("/entitlements/check-batch", check_batch, methods=["POST"]),
        Route("/entitlements/check", check, methods=["POST"]),
        Route("/health", health),
        Route("/health/live", health),
        Route("/health/ready", health),
    ]
)
