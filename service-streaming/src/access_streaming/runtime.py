"""Everything the streaming service runs: admission, connections, subscriptions, readers.

Built in the app's lifespan (after the backends opened) and closed before they close.
Admission order for a new connection, cheapest refusal first: connects per IP (429),
the token (401, or 503 when auth cannot answer: fail closed), a tenant (403), this
instance's capacity (503), then the user's and the tenant's cluster-wide slots (429).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Mapping

from opentelemetry import trace
from prometheus_client import Histogram

from access_common.backends.bus import Bus
from access_common.backends.kv import KeyValue
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.clients import AuthClient, EntitlementsClient
from access_common.clients.entitlements import Subject
from access_common.errors import AccessError
from access_common.http import HttpClient
from access_common.pusher import MetricsPusher
from access_common.ratelimit import Limit, RateLimiter
from access_streaming.auth import PrincipalCache
from access_streaming.bus import TopicReaders
from access_streaming.connections import CloseCode, Connection, ConnectionSlots, Owner, Protocol
from access_streaming.connections.overflow import OverflowCounts
from access_streaming.errors import (
    ConnectRateLimited,
    MessageMalformed,
    ServerAtCapacity,
    SubscriptionRevoked,
    TenantRequired,
    TokenSubjectMismatch,
    error_message,
)
from access_streaming.fanout import KEEPALIVE, DataFrame, Frame, Hub, control
from access_streaming.gcstats import GcPauses
from access_streaming.metrics import StreamingMetrics
from access_streaming.settings import StreamingSettings
from access_streaming.subscriptions import Subscriptions
from access_streaming.topics import BusName, TopicRegistry
from access_streaming.ws.flusher import Flusher

__all__ = ["StreamingRuntime"]

logger = logging.getLogger("access_streaming.runtime")

_RATE_WINDOW_SAMPLES = 11


class StreamingRuntime:
    """The live state of one streaming instance."""

    def __init__(
        self,
        settings: StreamingSettings,
        *,
        registry: TopicRegistry,
        http: HttpClient,
        kv: KeyValue,
        buses: Mapping[BusName, Bus],
        metrics: StreamingMetrics,
        tracer: trace.Tracer | None = None,
        pusher: MetricsPusher | None = None,
    ) -> None:
        self.settings = settings
        self.pusher = pusher
        self.registry = registry
        self.metrics = metrics
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.overflow = OverflowCounts(metrics)
        self.hub = Hub(
            key_fields={t.name: t.key for t in registry if t.key is not None},
            snapshot_topics={t.name for t in registry if t.snapshot},
            on_conflated=lambda topic: self.overflow.add(topic, "conflated_rate"),
        )
        self.buses = buses
        self.readers = TopicReaders(buses, registry, self.hub, metrics, tracer=tracer)
        self.principals = PrincipalCache(AuthClient(http, settings.auth_service_url))
        self.entitlements = EntitlementsClient(http, settings.entitlements_service_url)
        self.connect_limiter = RateLimiter(kv, prefix="stream:connect")
        # Message rates are per connection, so they are counted in this process.
        self.message_limiter = RateLimiter(MemoryKeyValue(), prefix="stream:msg")
        self.connect_limit = Limit(settings.connects_per_minute_per_ip, 60.0)
        self.message_limit = Limit(settings.client_messages_per_second, 1.0)
        self.slots = ConnectionSlots(
            kv,
            per_user=settings.max_connections_per_user,
            per_tenant=settings.max_connections_per_tenant,
            instance=self.instance,
            ttl=max(3.0, settings.heartbeat_timeout),
        )
        self.subscriptions = Subscriptions(
            registry,
            self.hub,
            self.readers,
            self.entitlements,
            metrics,
            max_topics=settings.max_topics_per_connection,
        )
        self.connections: dict[str, Connection] = {}
        self.active: dict[Protocol, int] = {"websocket": 0, "sse": 0}
        self.accepted: dict[Protocol, int] = {"websocket": 0, "sse": 0}
        self.sent: dict[Protocol, int] = {"websocket": 0, "sse": 0}
        self._capacity: dict[Protocol, int] = {
            "websocket": settings.max_ws_connections,
            "sse": settings.max_sse_connections,
        }
        self._expiry: dict[str, tuple[asyncio.TimerHandle, ...]] = {}
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=_RATE_WINDOW_SAMPLES)
        # Metric children looked up once, not on every write.
        self._sent_counters = {p: metrics.messages_sent.labels(p) for p in ("websocket", "sse")}
        self._push_labels = {p: {"protocol": p} for p in ("websocket", "sse")}
        self._lag: dict[str, Histogram] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._rechecker: asyncio.Task[None] | None = None
        self._follower: asyncio.Task[None] | None = None
        self.ws_flusher = Flusher(self)
        self.gc = GcPauses()
        self.draining = False
        self.drained = asyncio.Event()

    async def start(self) -> None:
        """Start the background work (slot refresh, rate sampling)."""
        self.slots.start()
        self.gc.start()
        self._ticker = asyncio.create_task(self._tick(), name="stats ticker")
        self._rechecker = asyncio.create_task(self._recheck_loop(), name="entitlement recheck")
        # A policy change kills cached decisions at once (the next re-check sees it); the
        # follower retries with a backoff while entitlements is down, never raises.
        self._follower = asyncio.create_task(
            self.entitlements.follow_policy_versions(), name="policy-version feed"
        )

    async def _tick(self) -> None:
        while True:
            now = time.monotonic()
            self._samples.append((now, self.sent["websocket"], self.sent["sse"]))
            self.sweep(now)
            await asyncio.sleep(1.0)

    def sweep(self, now: float) -> None:
        """Drop writers stalled past the heartbeat timeout; keep idle SSE streams alive."""
        stall = self.settings.heartbeat_timeout
        keepalive = self.settings.sse_keepalive_seconds
        for connection in list(self.connections.values()):
            since = connection.writing_since
            if since and now - since > stall:
                # A dead peer: its write never finishes, so the writer is stopped outright.
                self.metrics.send_errors.labels(connection.protocol, "stalled").inc()
                connection.close(CloseCode.HEARTBEAT_TIMEOUT, "peer stopped reading")
                if connection.writer is not None:
                    connection.writer.cancel()
            elif (
                connection.protocol == "sse"
                and not since
                and not connection.queue
                and now - connection.last_write >= keepalive
            ):
                connection.push(KEEPALIVE)

    def messages_per_second(self, protocol: Protocol) -> float:
        """Messages written per second over the last ten seconds."""
        if len(self._samples) < 2:
            return 0.0
        first, last = self._samples[0], self._samples[-1]
        index = 1 if protocol == "websocket" else 2
        elapsed = last[0] - first[0]
        return round((last[index] - first[index]) / elapsed, 1) if elapsed > 0 else 0.0

    async def admit(self, protocol: Protocol, token: str | None, client_ip: str) -> Connection:
        """Check every limit and the token; a registered, greeted connection or the refusal."""
        rate = await self.connect_limiter.hit(client_ip, self.connect_limit)
        if not rate.allowed:
            raise ConnectRateLimited(
                details={"limit": rate.limit, "window_seconds": 60}, headers=rate.headers()
            )
        principal = await self.principals.verify(token)
        if not principal.tenant_id:
            raise TenantRequired
        if self.draining:
            raise ServerAtCapacity("The server is restarting; reconnect shortly",
                                   headers={"Retry-After": "1"})  # fmt: skip
        if self.active[protocol] >= self._capacity[protocol]:
            raise ServerAtCapacity(
                details={"protocol": protocol, "limit": self._capacity[protocol]},
                headers={"Retry-After": "5"},
            )
        owner = Owner(principal.sub, principal.tenant_id, principal.roles, float(principal.exp))
        connection = Connection(
            protocol, owner, max_queue=self.settings.outgoing_queue_size, counts=self.overflow
        )
        self.active[protocol] += 1  # held while the slots are taken, so capacity is exact
        try:
            connection.lease = await self.slots.acquire(owner, connection.id)
        except BaseException:
            self.active[protocol] -= 1
            raise
        self._register(connection)
        owner = connection.owner
        connection.push(
            control(
                "connection_established",
                connection_id=connection.id,
                user_id=owner.user_id,
                tenant_id=owner.tenant_id,
            )
        )
        return connection

    def _register(self, connection: Connection) -> None:
        protocol = connection.protocol
        self.connections[connection.id] = connection
        self.accepted[protocol] += 1
        if protocol == "websocket":
            self.metrics.websocket_connections.inc()
        else:
            self.metrics.sse_connections.inc()
        self.metrics.active_connections.labels(protocol).inc()
        self._schedule_expiry(connection)

    def _schedule_expiry(self, connection: Connection) -> None:
        """``token_expiring`` ahead of exp, then the close at exp (replacing older timers)."""
        for timer in self._expiry.pop(connection.id, ()):
            timer.cancel()
        expires_at = connection.owner.expires_at
        delay = expires_at - time.time()
        loop = asyncio.get_running_loop()
        close = loop.call_later(
            max(0.0, delay), connection.close, CloseCode.TOKEN_EXPIRED, "token expired"
        )
        warning = loop.call_later(
            max(0.0, delay - self.settings.token_expiring_seconds),
            connection.push,
            control("token_expiring", expires_at=int(expires_at)),
        )
        self._expiry[connection.id] = (warning, close)

    async def refresh(self, connection: Connection, token: object) -> None:
        """Swap in a new token of the same user and tenant; subscriptions are re-checked."""
        if not isinstance(token, str) or not token:
            raise MessageMalformed("refresh needs data.token")
        principal = await self.principals.verify(token)
        owner = connection.owner
        if principal.sub != owner.user_id or principal.tenant_id != owner.tenant_id:
            raise TokenSubjectMismatch(
                "The new token belongs to another user or tenant; open a new connection"
            )
        connection.owner = Owner(owner.user_id, owner.tenant_id, principal.roles,
                                 float(principal.exp))  # fmt: skip
        self._schedule_expiry(connection)
        connection.push(control("token_refreshed", expires_at=int(principal.exp)))
        await self.recheck([connection])

    async def recheck(self, connections: list[Connection]) -> None:
        """Ask entitlements again for every subscription; revoke what is no longer allowed.

        One check-batch per distinct (user, tenant, roles). Decisions the client remembers
        stay valid for their TTL unless a newer policy version was observed. When the
        entitlements service cannot answer, the grants made at subscribe time stand.
        """
        by_subject: dict[Subject, list[Connection]] = {}
        for connection in connections:
            if connection.filters and not connection.closed:
                o = connection.owner
                by_subject.setdefault(Subject(o.user_id, o.tenant_id, o.roles), []).append(
                    connection
                )
        for subject, members in by_subject.items():
            names = sorted({name for c in members for name in c.filters})
            try:
                decisions = await self.entitlements.check_batch(
                    subject, [self.registry.get(name).entitlement for name in names]
                )
            except AccessError as exc:
                logger.warning("entitlement re-check failed: %s", exc.code)
                continue
            denied = {name for name, d in zip(names, decisions, strict=True) if not d.allow}
            for connection in members:
                for name in denied & set(connection.filters):
                    self.revoke(connection, name)

    def revoke(self, connection: Connection, topic: str) -> None:
        """Stop delivery of a topic at once: unsubscribe, drop what is queued, tell the client."""
        self.subscriptions.unsubscribe(connection, [topic])
        queue = connection.queue
        kept = [f for f in queue if not (isinstance(f, DataFrame) and f.message.topic == topic)]
        queue.clear()
        queue.extend(kept)
        self.metrics.refusals.labels(SubscriptionRevoked.default_code).inc()
        connection.push(
            control(
                "error",
                **error_message(
                    SubscriptionRevoked(
                        f"Access to topic {topic} was revoked", details={"topic": topic}
                    )
                ),
            )
        )

    async def _recheck_loop(self) -> None:
        interval = self.settings.entitlements_recheck_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await self.recheck(list(self.connections.values()))
            except Exception:
                logger.exception("entitlement re-check failed")

    async def release(self, connection: Connection) -> None:
        """Forget a finished connection: subscriptions, slots, counters (idempotent)."""
        if self.connections.pop(connection.id, None) is None:
            return
        connection.closed = True
        protocol = connection.protocol
        self.active[protocol] -= 1
        self.metrics.active_connections.labels(protocol).dec()
        for timer in self._expiry.pop(connection.id, ()):
            timer.cancel()
        for task in list(connection.tasks or ()):
            task.cancel()
        self.subscriptions.drop(connection)
        lease = connection.lease
        if lease is not None:
            connection.lease = None
            await self.slots.release(lease)
        if not self.connections and self.draining:
            self.drained.set()

    def record_sent(self, connection: Connection, batch: list[Frame]) -> None:
        """Account one finished write: counters and the lag of its oldest data message."""
        connection.writing_since = 0.0
        connection.last_write = time.monotonic()
        protocol = connection.protocol
        count = len(batch)
        if protocol == "sse":
            count -= batch.count(KEEPALIVE)
        connection.sent += count
        self.sent[protocol] += count
        self._sent_counters[protocol].inc(count)
        if self.pusher is not None and count:
            self.pusher.inc(
                "streaming_served_messages_sent_total", count, self._push_labels[protocol]
            )
        for frame in batch:
            if isinstance(frame, DataFrame):
                topic = frame.message.topic
                histogram = self._lag.get(topic)
                if histogram is None:
                    histogram = self._lag[topic] = self.metrics.delivery_lag.labels(topic)
                histogram.observe(max(0.0, time.time() - frame.timestamp_ms / 1000))
                break

    def record_websocket_sent(self, count: int, oldest: DataFrame | None, now: float) -> None:
        """Account one loop turn of WebSocket writes at once: counters and one lag sample."""
        self.sent["websocket"] += count
        self._sent_counters["websocket"].inc(count)
        if self.pusher is not None:
            self.pusher.inc(
                "streaming_served_messages_sent_total", count, self._push_labels["websocket"]
            )
        if oldest is not None:
            topic = oldest.message.topic
            histogram = self._lag.get(topic)
            if histogram is None:
                histogram = self._lag[topic] = self.metrics.delivery_lag.labels(topic)
            histogram.observe(max(0.0, time.time() - oldest.timestamp_ms / 1000))

    def owned(self, connection_id: str, user_id: str, tenant_id: str) -> Connection | None:
        """The connection when it exists here and belongs to that user of that tenant."""
        connection = self.connections.get(connection_id)
        if connection is None or connection.closed:
            return None
        owner = connection.owner
        if owner.user_id != user_id or owner.tenant_id != tenant_id:
            return None
        return connection

    def drain(self) -> None:
        """Tell every client to reconnect elsewhere (1012) and refuse new connections."""
        if self.draining:
            return
        self.draining = True
        if not self.connections:
            self.drained.set()
        for connection in list(self.connections.values()):
            connection.close(CloseCode.SERVICE_RESTART, "service restart: reconnect")

    async def close(self, grace: float = 5.0) -> None:
        """Drain, wait (bounded) for the writers to say goodbye, stop the readers."""
        self.drain()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self.drained.wait()
        for task in (self._ticker, self._rechecker, self._follower):
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._ticker, self._rechecker, self._follower) if t is not None),
            return_exceptions=True,
        )
        self.gc.stop()
        await self.readers.close()
        await self.slots.close()
