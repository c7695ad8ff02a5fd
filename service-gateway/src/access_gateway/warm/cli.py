"""``scripts/warm_served_cache.py``: warm one tenant's hot served queries straight into Redis.

Runbook (seed 000/002): after a deploy or a cache flush, run it with the tenant and
user, the Redis URL and the projection URL; ``--dry-run`` shows the plan without
writing; ``--hot-queries-file`` tries another ranking. A progress bar is drawn on a
terminal; the summary (YAML) ends with ``errors: []`` when all went well, and the exit
status is 1 when any query failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TextIO

import orjson
from prometheus_client import CollectorRegistry

from access_common.backends.kv import KeyValue
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.backends.redis_kv import RedisKeyValue
from access_common.http import HttpClient
from access_gateway.cache.service import ResponseCache
from access_gateway.metrics import GatewayMetrics
from access_gateway.routing.table import RouteTable, RouteTableError
from access_gateway.upstream.registry import Upstreams
from access_gateway.warm.plan import HotQueriesError, load_hot_queries, plan
from access_gateway.warm.service import Warmer, WarmReport

__all__ = ["main", "run"]

_BAR = 30


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="warm_served_cache.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--tenant", required=True, help="tenant whose entries are warmed")
    parser.add_argument("--user", required=True, help="who warms (sent upstream as X-User-ID)")
    parser.add_argument("--redis-url", default=os.environ.get("ACCESS_REDIS_URL"),
                        help="Redis the gateways read (default: $ACCESS_REDIS_URL)")  # fmt: skip
    parser.add_argument(
        "--projection-url",
        default=os.environ.get("ACCESS_PROJECTION_SERVICE_URL", "http://127.0.0.1:8020"),
        help="projection service (default: $ACCESS_PROJECTION_SERVICE_URL)",
    )
    parser.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    parser.add_argument("--hot-queries-file", type=Path,
                        default=_env_path("ACCESS_HOT_SERVED_QUERIES_FILE"))  # fmt: skip
    parser.add_argument("--routes-file", type=Path, default=_env_path("ACCESS_ROUTES_FILE"))
    parser.add_argument(
        "--concurrency", type=int,
        default=int(os.environ.get("ACCESS_CACHE_WARM_CONCURRENCY", "5")),
    )  # fmt: skip
    return parser


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


class _Bar:
    """A one-line progress bar, drawn only on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total == 0:
            return
        filled = round(_BAR * done / total)
        self.stream.write(f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {done}/{total}")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def _summary(report: WarmReport) -> str:
    """The report as YAML (every value JSON-encoded, which YAML reads as is)."""
    lines = []
    for key, value in report.as_dict().items():
        if isinstance(value, list) and value:
            lines.append(f"{key}:")
            lines.extend(f"  - {orjson.dumps(item).decode()}" for item in value)
        else:
            lines.append(f"{key}: {orjson.dumps(value).decode()}")
    return "\n".join(lines)


async def run(
    args: argparse.Namespace,
    *,
    kv: KeyValue | None = None,
    http: HttpClient | None = None,
    progress: TextIO = sys.stderr,
) -> WarmReport:
    """Warm as the arguments say; ``kv`` and ``http`` are injectable for tests."""
    variables = {"ACCESS_PROJECTION_SERVICE_URL": args.projection_url}
    table = RouteTable.load(args.routes_file, variables)
    queries = load_hot_queries(args.hot_queries_file)
    owned_http = http is None
    client = http or HttpClient(timeout=10.0, retries=1)
    store = kv
    if store is None:
        store = RedisKeyValue(args.redis_url) if args.redis_url else MemoryKeyValue()
    metrics = GatewayMetrics(CollectorRegistry())
    upstreams = Upstreams(client, metrics, max_body_bytes=16_777_216)
    upstreams.sync(table.upstreams)
    cache = ResponseCache(store, metrics, lru_entries=0)
    warmer = Warmer(upstreams, cache, metrics, concurrency=max(1, args.concurrency))
    items, problems = plan(queries, table, tenant=args.tenant, user=args.user)
    try:
        return await warmer.warm(
            items, tenant=args.tenant, user=args.user, dry_run=args.dry_run,
            problems=problems, progress=_Bar(progress),
        )  # fmt: skip
    finally:
        if owned_http:
            await client.aclose()
        if kv is None:
            await store.close()


def main(argv: list[str] | None = None) -> int:
    """Parse, warm, print the summary; 0 when there were no errors, 1 otherwise, 2 on misuse."""
    args = _parser().parse_args(argv)
    if not args.redis_url and not args.dry_run:
        print("--redis-url (or ACCESS_REDIS_URL) is required unless --dry-run", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(run(args))
    except (RouteTableError, HotQueriesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(_summary(report))
    return 1 if report.errors else 0
