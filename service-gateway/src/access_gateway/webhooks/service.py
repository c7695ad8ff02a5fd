"""Accept one webhook: every check in order, then publish, then (only then) 202.

Order, cheapest and least trusting first: maintenance → source → client rate limit →
client allow-list → content type and size → authenticity (signature / token) and
timestamp window → payload shape → source rate limit → nonce → idempotency → JetStream
(raw and normalized, both acked). A refusal that a retry can fix (GW-005, GW-013, a
GW-006 for a signal still in flight) gives back what the request claimed (its nonce, its
idempotency key), so the sender's identical retry is accepted once the cause is gone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from access_common.backends.bus import Bus
from access_common.backends.kv import KeyValue
from access_common.context import TRACEPARENT_HEADER, current_trace, current_trace_id
from access_common.ratelimit import RateLimiter
from access_gateway.identity.client_ip import ClientIpRule
from access_gateway.webhooks.errors import (
    ClientNotAllowed,
    DuplicateSignal,
    InternalWebhookError,
    MaintenanceMode,
    ReplayRejected,
    SourceNotAllowed,
    UnsupportedContentType,
    WebhookError,
)
from access_gateway.webhooks.limits import WebhookLimits
from access_gateway.webhooks.metrics import WebhookMetrics
from access_gateway.webhooks.policy import SourcePolicy, build_policies
from access_gateway.webhooks.publisher import SignalPublisher
from access_gateway.webhooks.schemes import TokenScheme, Verified
from access_gateway.webhooks.settings import WebhookSettings
from access_gateway.webhooks.signal import SCHEMA, encode_signal, normalize, parse_payload
from access_gateway.webhooks.stores import IdempotencyStore, NonceStore

__all__ = ["Accepted", "Inbound", "WebhookService"]

logger = logging.getLogger("access_gateway.webhooks")

BodyReader = Callable[[int], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class Inbound:
    """One webhook request as the router parsed it (the body is read on demand)."""

    source: str
    headers: Mapping[str, str]
    peer: str | None
    read_body: BodyReader
    path_token: str | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """A signal durably in the stream."""

    id: str
    source: str
    raw_seq: int
    normalized_seq: int
    corr_id: str


class WebhookService:
    """Authenticate, validate, de-duplicate and publish webhooks."""

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        kv: KeyValue,
        bus: Bus,
        limiter: RateLimiter,
        metrics: WebhookMetrics,
        client_ip: ClientIpRule | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._maintenance = settings.webhook_maintenance_mode
        self._policies = build_policies(settings, clock)
        # The gateway passes its one rule (REST and webhooks alike); alone, the CIDRs.
        self._client_ip = client_ip or ClientIpRule(
            trusted_proxies=settings.webhook_trusted_proxies
        )
        self._max_body = settings.webhook_max_body_bytes
        retry_after = settings.webhook_retry_after_sec
        prefix = settings.webhook_kv_prefix
        self._nonces = NonceStore(
            kv,
            prefix=prefix,
            ttl_seconds=2 * settings.webhook_replay_window_sec,
            retry_after=retry_after,
        )
        self._idempotency = IdempotencyStore(
            kv,
            prefix=prefix,
            ttl_seconds=settings.webhook_idempotency_ttl_sec,
            pending_ttl_seconds=2 * settings.webhook_buffer_wait_sec + 10,
            retry_after=retry_after,
        )
        self._limits = WebhookLimits(
            limiter,
            metrics,
            client_rps=settings.webhook_rate_limit_rps,
            source_rps=settings.webhook_rate_limit_sources,
            default_source_rps=settings.webhook_rate_limit_default,
            prefix=prefix,
        )
        self.publisher = SignalPublisher(
            bus,
            metrics,
            stream=settings.webhook_nats_stream,
            raw_subject=settings.webhook_subject_raw,
            normalized_subject=settings.webhook_subject_normalized,
            buffer_max=settings.webhook_buffer_max,
            retry_after=retry_after,
            max_age=settings.webhook_stream_max_age_sec,
            max_bytes=settings.webhook_stream_max_bytes,
            duplicate_window=settings.webhook_duplicate_window_sec,
        )

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources served at ``/webhook/{source}``."""
        return tuple(self._policies)

    async def accept(self, inbound: Inbound) -> Accepted:
        """Accept the webhook or raise the WebhookError that says why not."""
        started = time.perf_counter()
        source_label = inbound.source if inbound.source in self._policies else "unknown"
        context: dict[str, Any] = {
            "corr_id": current_trace_id(),
            "client_ip": self._client_ip.text(inbound.peer, inbound.headers.get("x-forwarded-for")),
            "source": source_label,
        }
        status = 500
        try:
            accepted = await self._accept(inbound, context)
        except WebhookError as exc:
            status = exc.status
            self._refused(exc, context, inbound)
            raise
        except Exception as exc:
            logger.exception("webhook failed", extra={**context, "code": "GW-010"})
            raise InternalWebhookError from exc
        else:
            status = 202
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "webhook accepted",
                    extra={**context, "signal_id": accepted.id, "raw_seq": accepted.raw_seq},
                )
            return accepted
        finally:
            self._metrics.count_received(source_label, status)
            self._metrics.duration.observe(time.perf_counter() - started)

    async def _accept(self, inbound: Inbound, context: dict[str, Any]) -> Accepted:
        if self._maintenance:
            raise MaintenanceMode(retry_after=self._settings.webhook_maintenance_retry_after_sec)
        policy = self._policies.get(inbound.source)
        if policy is None:
            raise SourceNotAllowed  # the configured names are not told to strangers
        client = context["client_ip"]
        await self._limits.check_client(client)
        if policy.allowed_ips and not policy.allows(client):
            raise ClientNotAllowed
        self._check_content(inbound.headers, policy)
        body = await inbound.read_body(self._max_body)
        verified = self._verify(policy, body, inbound)
        context["scheme"] = verified.scheme
        parsed = parse_payload(policy.shape, verified.raw, verified.document)
        received_at = datetime.fromtimestamp(self._clock(), UTC)
        signal = normalize(
            policy.name,
            parsed,
            received_at=received_at,
            corr_id=context["corr_id"],
            message_id=verified.message_id,
        )
        await self._limits.check_source(policy.name)
        key = signal["id"]
        # Nonce and idempotency key in one claim (one round trip on Redis); a used
        # nonce answers first, as when they were claimed one after the other.
        nonce = (
            self._nonces.entry(policy.name, verified.nonce) if verified.nonce is not None else None
        )
        try:
            nonce_new, claim = await self._idempotency.claim(key, nonce=nonce)
            if not nonce_new:
                raise ReplayRejected("X-Nonce was already used", details={"reason": "nonce_reused"})
            if claim != "claimed":
                self._metrics.idempotency_conflicts.inc()
                if claim == "pending":
                    raise DuplicateSignal(
                        "The same signal is being accepted right now",
                        details={"id": key, "state": "in_flight"},
                        retry_after=1,
                    )
                raise DuplicateSignal(details={"id": key, "state": "accepted"})
            return await self._publish_once(policy, verified, key, encode_signal(signal))
        except WebhookError as exc:
            # A refusal that invites a retry (it has Retry-After) gives the nonce back,
            # so the identical request can be sent again.
            if "Retry-After" in exc.headers and verified.nonce is not None:
                await self._nonces.release(policy.name, verified.nonce)
            raise

    async def _publish_once(
        self, policy: SourcePolicy, verified: Verified, key: str, normalized: bytes
    ) -> Accepted:
        headers = {"Signal-Id": key, "Signal-Source": policy.name, "Signal-Schema": SCHEMA}
        trace = current_trace()
        if trace is not None:  # streaming's delivery continues this request's trace
            headers[TRACEPARENT_HEADER] = trace.outgoing().header()
        try:
            raw_seq, normalized_seq = await self.publisher.publish(
                key, verified.raw, normalized, headers
            )
        except BaseException:
            await self._idempotency.release(key)
            raise
        await self._idempotency.complete(key)
        return Accepted(
            id=key,
            source=policy.name,
            raw_seq=raw_seq,
            normalized_seq=normalized_seq,
            corr_id=current_trace_id(),
        )

    @staticmethod
    def _check_content(headers: Mapping[str, str], policy: SourcePolicy) -> None:
        media = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if not policy.accepts(media):
            raise UnsupportedContentType(
                details={"content_type": media or None, "accepted": list(policy.media_types)}
            )

    def _verify(self, policy: SourcePolicy, body: bytes, inbound: Inbound) -> Verified:
        scheme = policy.scheme
        if isinstance(scheme, TokenScheme):
            return scheme.verify(body, inbound.path_token)
        if inbound.path_token is not None:
            # A token in the path means nothing to a signing scheme: refuse, loudly.
            raise SourceNotAllowed(details={"reason": "path_token_not_configured"})
        return scheme.verify(body, inbound.headers)

    def _refused(self, exc: WebhookError, context: dict[str, Any], inbound: Inbound) -> None:
        if exc.kind is not None:
            self._metrics.validation_errors.labels(exc.kind).inc()
        extra: dict[str, Any] = {**context, "code": exc.code, "status": exc.status}
        reason = exc.details.get("reason")
        if reason is not None:
            extra["reason"] = reason
        if isinstance(exc, ReplayRejected):
            extra["window_sec"] = self._settings.webhook_replay_window_sec
            extra["timestamp_provided"] = inbound.headers.get("x-timestamp") or inbound.headers.get(
                "webhook-timestamp"
            )
        elif exc.code == "GW-004":
            extra["limit"] = exc.details.get("limit")
            extra["scope"] = exc.details.get("scope")
        elif exc.code == "GW-005":
            extra["nats_status"] = self.publisher.state()
            extra["last_success"] = self.publisher.last_success
        level = logging.ERROR if exc.status >= 500 else logging.WARNING
        logger.log(level, "webhook refused: %s", exc.code, extra=extra)
