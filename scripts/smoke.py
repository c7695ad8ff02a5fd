"""Smoke test of a running stack (`make smoke`, scripts/smoke.sh): a pass/fail table.

Checks, in order: each service's /health; a token round trip (a dev token from auth's
issuer, or --token, verified by POST /auth/verify); one REST read through the gateway;
a WebSocket subscription and an SSE stream that both receive the signal of one signed
webhook (seed 004: X-Timestamp, X-Nonce, X-Signature `sha256=<hex HMAC of the raw body>`)
posted to the gateway. Exit code 0 only when every row passed.

Defaults are `make run`'s ports on 127.0.0.1; point it elsewhere with the options or the
SMOKE_* variables (--help). It only reads, except for the one webhook it posts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

import httpx
import websockets

PORTS = {"gateway": 8000, "streaming": 8001, "auth": 8010, "entitlements": 8011, "metrics": 8012}
# signals.raw is not a subscriber topic (the registry serves the normalized ones).
SIGNAL_TOPICS = ["signals.normalized"]


class Failed(Exception):
    """A check did not pass; the message says why."""


# The secret scripts/run.py gives the gateway under `make run` (local only).
DEV_WEBHOOK_SECRET = "local-dev-webhook-secret-not-for-production"  # noqa: S105 - dev only


def options() -> argparse.Namespace:
    """Command-line options, each defaulting to a SMOKE_* variable, then to `make run`."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for name, port in PORTS.items():
        parser.add_argument(
            f"--{name}",
            default=os.environ.get(f"SMOKE_{name.upper()}_URL", f"http://127.0.0.1:{port}"),
            help=f"base URL (SMOKE_{name.upper()}_URL)",
        )
    parser.add_argument(
        "--token", default=os.environ.get("SMOKE_TOKEN"), help="JWT to use (SMOKE_TOKEN); "
        "default: one from auth's dev issuer (ACCESS_ENV=local)",
    )  # fmt: skip
    parser.add_argument(
        "--rest-path", default=os.environ.get("SMOKE_REST_PATH", "/api/v1/instruments")
    )
    parser.add_argument(
        "--webhook-source", default=os.environ.get("SMOKE_WEBHOOK_SOURCE", "generic")
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("SMOKE_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET),
        help="HMAC secret the gateway expects (SMOKE_WEBHOOK_SECRET; default: `make run`'s)",
    )
    parser.add_argument(
        "--timeout", type=float, default=float(os.environ.get("SMOKE_TIMEOUT", "10"))
    )
    return parser.parse_args()


def sign(secret: str, body: bytes) -> dict[str, str]:
    """Seed 004's headers for a signed webhook."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json; charset=utf-8",
        "X-Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "X-Nonce": str(uuid.uuid4()),
        "X-Signature": f"sha256={digest}",
    }


class Smoke:
    """The checks, sharing one HTTP client, the token and the webhook's marker."""

    def __init__(self, args: argparse.Namespace, client: httpx.AsyncClient) -> None:
        self.args = args
        self.client = client
        self.token: str | None = args.token
        self.marker = f"smoke-{uuid.uuid4()}"
        self.ws_ready = asyncio.Event()
        self.sse_ready = asyncio.Event()

    async def health(self, service: str) -> str:
        """GET /health answers 200 with status ok or degraded."""
        response = await self.client.get(f"{getattr(self.args, service)}/health")
        body = response.json()
        if response.status_code != 200 or body.get("status") not in {"ok", "degraded"}:
            raise Failed(f"{response.status_code} status={body.get('status')}")
        return f"{body['status']} version={body.get('version')} commit={body.get('commit')}"

    async def token_round_trip(self) -> str:
        """A dev token (unless --token) that POST /auth/verify accepts."""
        if self.token is None:
            issued = await self.client.post(
                f"{self.args.auth}/auth/dev/token",
                json={"sub": "smoke", "tenant_id": "tenant-a", "roles": ["trader"]},  # a dev tenant
            )
            if issued.status_code != 200:
                raise Failed(f"dev issuer answered {issued.status_code} (not local? pass --token)")
            self.token = str(issued.json()["access_token"])
        verified = await self.client.post(
            f"{self.args.auth}/auth/verify", headers={"Authorization": f"Bearer {self.token}"}
        )
        if verified.status_code != 200:
            raise Failed(f"/auth/verify answered {verified.status_code}: {verified.text[:200]}")
        claims = verified.json()
        return f"sub={claims.get('sub')} tenant={claims.get('tenant_id')}"

    def _bearer(self) -> dict[str, str]:
        if self.token is None:
            raise Failed("no token (the token round trip failed)")
        return {"Authorization": f"Bearer {self.token}"}

    async def rest_read(self) -> str:
        """One authenticated REST read through the gateway."""
        response = await self.client.get(
            f"{self.args.gateway}{self.args.rest_path}", headers=self._bearer()
        )
        if response.status_code != 200:
            raise Failed(f"GET {self.args.rest_path} answered {response.status_code}")
        return f"GET {self.args.rest_path} 200, {len(response.content)} bytes"

    async def websocket(self) -> str:
        """Connect, subscribe to the signal topics, receive the webhook's message."""
        url = (
            self.args.streaming.replace("http", "ws", 1)
            + f"/ws/stream?token={self._bearer()['Authorization'][7:]}"
        )
        async with websockets.connect(url, open_timeout=self.args.timeout) as ws:
            hello = json.loads(await ws.recv())
            if hello.get("type") != "connection_established":
                raise Failed(f"first message {hello.get('type')!r}, not connection_established")
            await ws.send(json.dumps({"action": "subscribe", "data": {"topics": SIGNAL_TOPICS}}))
            await asyncio.sleep(0.5)  # the subscription reaches the bus before the webhook
            self.ws_ready.set()
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == "error":
                    raise Failed(f"error {message.get('error')}: {message.get('message')}")
                if message.get("type") == "data" and self.marker in json.dumps(message):
                    return f"data on {message.get('topic')}"

    async def sse(self) -> str:
        """Open the SSE stream, subscribe it, receive the webhook's data event."""
        headers = {**self._bearer(), "Accept": "text/event-stream"}
        url = f"{self.args.streaming}/sse/stream"
        async with self.client.stream(
            "GET", url, params={"token": headers["Authorization"][7:]}, headers=headers
        ) as response:
            if response.status_code != 200:
                raise Failed(f"GET /sse/stream answered {response.status_code}")
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "connection_established":
                    connection = json.loads(line[5:])["connection_id"]
                    for topic in SIGNAL_TOPICS:
                        subscribed = await self.client.post(
                            f"{self.args.streaming}/sse/subscribe",
                            data={"connection_id": connection, "topic": topic},
                            headers=self._bearer(),
                        )
                        if subscribed.status_code != 200:
                            raise Failed(f"/sse/subscribe answered {subscribed.status_code}")
                    await asyncio.sleep(0.5)
                    self.sse_ready.set()
                elif line.startswith("data:") and event == "data" and self.marker in line:
                    return "data event received"
        raise Failed("stream ended before the event")

    async def webhook(self) -> str:
        """Post one signed webhook (seed 004's HMAC headers) to the gateway."""
        # Post once both streams listen (or have failed), so they can see the signal.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(self.ws_ready.wait(), self.sse_ready.wait()), self.args.timeout / 2
            )
        if not self.args.webhook_secret:
            raise Failed("no secret: set SMOKE_WEBHOOK_SECRET to the gateway's webhook secret")
        # Seed 004's generic shape; a fresh timestamp keeps the idempotency key new.
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        signal = {
            "source": "smoke",
            "instrument": "BRENT",
            "timestamp": now.replace("+00:00", "Z"),
            "payload": {"action": "buy", "price": 75.5, "id": self.marker},
        }
        body = json.dumps(signal).encode()
        response = await self.client.post(
            f"{self.args.gateway}/webhook/{self.args.webhook_source}",
            content=body,
            headers=sign(self.args.webhook_secret, body),
        )
        if response.status_code not in (200, 201, 202):
            where = f"POST /webhook/{self.args.webhook_source}"
            raise Failed(f"{where} answered {response.status_code}: {response.text[:200]}")
        return f"{response.status_code} accepted"


async def timed(
    name: str, check: Callable[[], Awaitable[str]], seconds: float
) -> tuple[str, bool, str]:
    """Run one check within its time budget; (name, passed, detail)."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(seconds):
            detail = await check()
    except Failed as exc:
        return name, False, str(exc)
    except TimeoutError:
        return name, False, f"no answer within {seconds:.0f}s"
    except (httpx.HTTPError, OSError, websockets.WebSocketException, ValueError, KeyError) as exc:
        return name, False, f"{type(exc).__name__}: {exc}"[:200]
    return name, True, f"{detail} ({(time.monotonic() - started) * 1000:.0f} ms)"


async def run(args: argparse.Namespace) -> list[tuple[str, bool, str]]:
    """Every check; the stream checks and the webhook run together."""
    async with httpx.AsyncClient(timeout=args.timeout) as client:
        smoke = Smoke(args, client)
        rows = []
        for service in PORTS:
            rows.append(
                await timed(f"health {service}", partial(smoke.health, service), args.timeout)
            )
        rows.append(await timed("token round trip", smoke.token_round_trip, args.timeout))
        rows.append(await timed("REST read via gateway", smoke.rest_read, args.timeout))
        flows = await asyncio.gather(
            timed("WebSocket subscription", smoke.websocket, args.timeout * 2),
            timed("SSE event", smoke.sse, args.timeout * 2),
            timed("signed webhook", smoke.webhook, args.timeout * 2),
        )
        rows.extend(flows)
    return rows


def main() -> int:
    """Print the table; exit 0 only when every check passed."""
    args = options()
    rows = asyncio.run(run(args))
    width = max(len(name) for name, _, _ in rows)
    print(f"{'check':<{width}}  result  detail")
    for name, passed, detail in rows:
        print(f"{name:<{width}}  {'PASS' if passed else 'FAIL':<6}  {detail}")
    failed = sum(not passed for _, passed, _ in rows)
    print(f"{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
