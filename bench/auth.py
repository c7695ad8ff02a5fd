"""Auth benchmark: in-process verifications/s (RS256, ES256) and /auth/verify over HTTP.

The HTTP part runs the real auth service (one uvicorn worker, dev issuer, ES256) and,
in the same run, a bare FastAPI route served the same way, each at fixed request rates
from an open-loop generator on the other core.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import urllib.request

from access_auth.jwks.keys import KeySet, parse_jwk
from access_auth.jwks.source import StaticKeySource
from access_auth.runtime import claims_policy
from access_auth.settings import AuthSettings
from access_auth.testing import AUDIENCE, CLIENT_ID, ISSUER, claims, ec_key, jwk_of, rsa_key, sign
from access_auth.validation.verifier import TokenVerifier
from bench.load import LoadResult, run_load
from bench.servers import new_port, serving, uvicorn_argv

__all__ = ["run"]

ANALYSIS = """What bounds it (py-spy, one worker at 800 req/s, every request verified): about a
quarter of the busy time is the ES256 signature check in `cryptography`, the rest is
FastAPI/Starlette routing, dependency solving and uvicorn's HTTP handling, the path the
bare route pays too. Three changes came out of profiling: (1) the auth dependencies were
plain `def` functions, which FastAPI runs in a thread pool - two thread hops per request
put p99 above 100 ms at 1,000 req/s; they are `async def` now; (2) each service calls
`gc.freeze()` once started, so full collections stop re-walking start-up objects - in
A/B runs at 1,500 req/s auth's p99 went from 10-21 ms to 3-4 ms; (3) a repeat of a token
verified moments ago with the still-current key skips the signature and claims work
(`ACCESS_JWT_RECENT_TOKENS`, docs/auth.md says when an entry is dropped) - that takes
auth to within a few tenths of a millisecond of the bare route. The generator runs in
Python on the other core, so the bare route's p99 is the floor this machine can show;
more throughput comes from `ACCESS_WORKERS` (one worker per core). Rows of one table
differ by run-to-run noise of this shared VM (auth's p99 at 1,000 req/s with every
request verified ranged 2.1-3.5 ms over five runs in one session): compare with the
bare route of the same run, and repeat before concluding."""


async def _in_process(alg: str, seconds: float, *, recent: bool = False) -> float:
    key = rsa_key() if alg == "RS256" else ec_key()
    settings = AuthSettings(
        env="test", jwt_issuer=ISSUER, jwt_audience=[AUDIENCE], jwt_client_id=CLIENT_ID
    )
    allowed = frozenset(settings.jwt_algorithms)
    keys = KeySet([parse_jwk(jwk_of(key, "k1", alg=alg), allowed, source="bench")])
    verifier = TokenVerifier(
        primary=StaticKeySource(keys),
        policy=claims_policy(settings),
        allowed=allowed,
        recent_size=10_000 if recent else 0,
    )
    token = sign(claims(), key, alg)
    await verifier.verify(token)
    count = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(100):
            await verifier.verify(token)
        count += 100
    return count / elapsed


def _dev_token(port: int) -> str:
    body = json.dumps({"sub": "bench", "tenant_id": "tenant-a", "roles": ["trader"]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/auth/dev/token",
        data=body,
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(json.loads(response.read())["access_token"])


def _request(port: int, token: str) -> bytes:
    return (
        f"POST /auth/verify HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _row(name: str, result: LoadResult) -> str:
    ok = result.statuses.get(200, 0)
    return (
        f"| {name} | {result.target_rps:,.0f} | {result.achieved_rps:,.0f} | "
        f"{result.percentile(50):.2f} | {result.percentile(99):.2f} | "
        f"{result.percentile(99.9):.2f} | {ok:,} | {result.errors} |"
    )


async def _http(
    rates: list[float], duration: float, log_level: str, *, recent: bool = True, bare: bool = True
) -> list[str]:
    rows: list[str] = []
    port = new_port()
    auth_env = {
        "ACCESS_ENV": "local",
        "ACCESS_PORT": str(port),
        "ACCESS_LOG_LEVEL": log_level,
        "ACCESS_STATE_DIR": tempfile.mkdtemp(prefix="access-bench-"),
        "ACCESS_JWT_RECENT_TOKENS": "10000" if recent else "0",
    }
    label = f"auth /auth/verify (log {log_level}{'' if recent else ', every request verified'})"
    with serving([sys.executable, "-m", "access_auth"], auth_env, port, "/health/live"):
        token = _dev_token(port)
        for rate in rates:
            result = await run_load("127.0.0.1", port, _request(port, token), rate=rate,
                                    duration=duration)  # fmt: skip
            rows.append(_row(label, result))
    if not bare:
        return rows
    bare_port = new_port()
    with serving(uvicorn_argv("bench.bare_app:app", bare_port), {}, bare_port, "/docs"):
        for rate in rates:
            result = await run_load("127.0.0.1", bare_port, _request(bare_port, token), rate=rate,
                                    duration=duration)  # fmt: skip
            rows.append(_row("bare FastAPI route", result))
    return rows


async def run(*, quick: bool = False) -> str:
    """Measure and return the markdown section."""
    seconds = 1.0 if quick else 3.0
    rs256 = await _in_process("RS256", seconds)
    es256 = await _in_process("ES256", seconds)
    repeat = await _in_process("ES256", seconds, recent=True)
    duration = 3.0 if quick else 5.0  # the throughput section has the 10 s rows
    rates = [1000.0] if quick else [500.0, 1000.0, 2000.0, 3000.0]
    rows = await _http(rates, duration, "warning")
    rows += await _http(rates[1:3] or rates, duration, "warning", recent=False, bare=False)
    rows += await _http([1000.0], duration, "info", bare=False)
    header = (
        "| server | target req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | 200s | errors |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    return "\n".join(
        [
            "## Auth service",
            "",
            "In-process verification, one core (signature + claims mapping; the last row is a",
            "repeat answered by the recently-verified map):",
            "",
            "| algorithm | verifications/s |",
            "|---|---|",
            f"| RS256 (2048-bit) | {rs256:,.0f} |",
            f"| ES256 (P-256) | {es256:,.0f} |",
            f"| repeat of a recently verified token | {repeat:,.0f} |",
            "",
            "`POST /auth/verify` over HTTP/1.1 keep-alive, one uvicorn worker, one ES256",
            "dev-issuer token sent again and again (as a gateway does within a session: the",
            "recently-verified map answers repeats; the 'every request verified' rows turn it",
            "off), open-loop load (latency from the scheduled send time), "
            f"{duration:.0f} s per row after 1 s warm-up; the bare route is the baseline:",
            "",
            header,
            *rows,
            "",
            ANALYSIS,
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(run(quick=True)))
