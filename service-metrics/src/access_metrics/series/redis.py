"""The Redis store: totals shared by every replica, kept across restarts.

Each batch is applied by one Lua script, so it is atomic (all of it or, when Redis is
unreachable, none of it) and each accepted sample is counted exactly once whichever
replica took it. The per-metric series cap is checked in the same script, so two
replicas together never exceed it.

Every replica can render the shared totals, so if Prometheus scraped them all, the
pushed series would be counted once per replica. Only the holder of a lease (renewed
by its scrapes, released on shutdown) exposes them; the others expose only their own
metrics. Scripts build key names from a prefix: a single Redis, not a cluster.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import orjson
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.maint_notifications import MaintNotificationsConfig

from access_common.errors import BackendError
from access_metrics.series.model import FamilySpec, FamilyState, MetricType, Op, SeriesKey

__all__ = ["RedisSeriesStore"]

_T = TypeVar("_T")

_APPLY = """
local prefix, cap = ARGV[1], tonumber(ARGV[2])
local refused = {}
for i = 3, #ARGV, 5 do
  local kind, family, field, value, bucket = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4]
  local series = prefix .. ':series:' .. family
  local ok = redis.call('SISMEMBER', series, field) == 1
  if not ok and redis.call('SCARD', series) < cap then
    redis.call('SADD', series, field)
    ok = true
  end
  if ok then
    local data = prefix .. ':data:' .. family
    if kind == 'c' then
      redis.call('HINCRBYFLOAT', data, field, value)
    elseif kind == 'g' then
      redis.call('HSET', data, field, value)
    else
      redis.call('HINCRBY', data, field .. '|b' .. bucket, 1)
      redis.call('HINCRBYFLOAT', data, field .. '|s', value)
      redis.call('HINCRBY', data, field .. '|n', 1)
    end
  else
    table.insert(refused, (i - 3) / 5)
  end
end
return refused
"""

_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_KIND = {MetricType.COUNTER: "c", MetricType.GAUGE: "g", MetricType.HISTOGRAM: "h"}


class RedisSeriesStore:
    """Series aggregated in Redis under ``prefix``, shared by the replicas."""

    name = "redis"

    def __init__(
        self, url: str, *, prefix: str, replica: str, lease_seconds: float, ssl: bool = False
    ) -> None:
        if ssl and url.startswith("redis://"):
            url = "rediss://" + url.removeprefix("redis://")
        try:
            pool = self._pool(url)
        except ValueError:
            # The parser's message may quote the URL, password included.
            raise ValueError("Invalid ACCESS_REDIS_URL for the metrics store") from None
        self._redis: Redis = Redis.from_pool(pool)
        self.prefix = prefix
        self.replica = replica
        self._lease_ms = str(max(1, round(lease_seconds * 1000)))
        self._apply = self._redis.register_script(_APPLY)
        self._lease = self._redis.register_script(_LEASE)
        self._release = self._redis.register_script(_RELEASE)
        self._keys: dict[bytes, SeriesKey] = {}

    @staticmethod
    def _pool(url: str) -> BlockingConnectionPool:
        # The same pool settings as access_common's RedisKeyValue (see there why): bounded
        # and blocking, short timeouts, no retries (a retried script could count twice).
        return BlockingConnectionPool.from_url(
            url,
            max_connections=20,
            timeout=2.0,
            socket_connect_timeout=1.0,
            socket_timeout=1.0,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 0),
            maint_notifications_config=MaintNotificationsConfig(enabled=False),
        )

    async def start(self) -> list[FamilySpec]:
        """The families every replica registered so far."""
        return await self.families()

    async def families(self) -> list[FamilySpec]:
        """The families every replica registered so far."""
        raw = await _call(self._redis.hgetall(f"{self.prefix}:families"))
        return [FamilySpec.from_json(value) for value in raw.values()]

    async def register(self, spec: FamilySpec) -> FamilySpec:
        """First writer wins (HSETNX); the stored spec is returned."""
        key = f"{self.prefix}:families"
        if await _call(self._redis.hsetnx(key, spec.name, spec.to_json())):
            return spec
        stored = await _call(self._redis.hget(key, spec.name))
        return FamilySpec.from_json(stored) if stored is not None else spec

    async def apply(self, ops: Sequence[Op], max_series: int) -> list[int]:
        """One script call for the whole batch; the refused positions map back to indexes."""
        if not ops:
            return []
        args: list[Any] = [self.prefix, max_series]
        for spec, key, value, _ in ops:
            bucket = spec.bucket_index(value) if spec.type is MetricType.HISTOGRAM else 0
            args += (_KIND[spec.type], spec.name, orjson.dumps(key), repr(value), bucket)
        refused = await _call(self._apply(args=args))
        return [ops[int(position)][3] for position in refused]

    async def snapshot(self, known: Sequence[FamilySpec]) -> list[FamilyState]:
        """Read every family and its series (one pipeline).

        A family this replica knows but Redis lost (a Redis restarted without
        persistence) is registered again, so its new series are exposed.
        """
        stored = {spec.name: spec for spec in await self.families()}
        for spec in known:
            if spec.name not in stored:
                stored[spec.name] = await self.register(spec)
        specs = list(stored.values())
        async with self._redis.pipeline(transaction=False) as pipe:
            for spec in specs:
                pipe.hgetall(f"{self.prefix}:data:{spec.name}")
            data = await _call(pipe.execute())
        return [self._state(spec, fields) for spec, fields in zip(specs, data, strict=True)]

    def _key(self, raw: bytes) -> SeriesKey:
        key = self._keys.get(raw)
        if key is None:
            key = self._keys[raw] = tuple(orjson.loads(raw))
        return key

    def _state(self, spec: FamilySpec, fields: dict[bytes, bytes]) -> FamilyState:
        state = FamilyState(spec)
        if spec.type is not MetricType.HISTOGRAM:
            state.values = {self._key(field): float(value) for field, value in fields.items()}
            return state
        width = len(spec.buckets) + 3
        for field, value in fields.items():
            raw_key, _, part = field.rpartition(b"|")
            series = state.histograms.get(key := self._key(raw_key))
            if series is None:
                series = state.histograms[key] = [0.0] * width
            if part == b"s":
                series[-2] = float(value)
            elif part == b"n":
                series[-1] = float(value)
            else:
                series[int(part[1:])] = float(value)
        return state

    async def exporting(self) -> bool:
        """Take or renew the export lease; True while this replica holds it."""
        lease = f"{self.prefix}:exporter"
        return bool(await _call(self._lease(keys=[lease], args=[self.replica, self._lease_ms])))

    async def ping(self) -> None:
        """Return when Redis answers PING."""
        await _call(self._redis.ping())

    async def close(self) -> None:
        """Hand the export lease over at once, then disconnect."""
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await self._release(keys=[f"{self.prefix}:exporter"], args=[self.replica])
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await self._redis.aclose()


async def _call(command: Awaitable[_T]) -> _T:
    """Await a Redis command; any driver failure becomes BackendError (nothing applied)."""
    try:
        return await command
    except (RedisError, OSError, TimeoutError) as exc:
        raise BackendError(
            "Redis is unavailable or rejected the command", details={"backend": "redis"}
        ) from exc
