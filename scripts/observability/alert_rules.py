"""The alert rules and their promtool unit tests, as data (python -m scripts.observability.build).

Each alert carries a case that must fire and one that must not; ``build`` writes the
rule files under ``alerts/`` and the promtool tests under ``alerts/tests/`` from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SERVICES", "Alert", "Case", "RuleFile", "rule_files"]

RUNBOOKS = "docs/observability.md"
SERVICES = ("gateway", "streaming", "auth", "entitlements", "metrics")
# p95 targets of seed 001 section 16 (auth 15 ms, entitlements 25 ms, gateway 150 ms);
# streaming and metrics have none there: 250 ms, the streaming delivery-lag target.
_P95_SECONDS = {
    "gateway": 0.15,
    "streaming": 0.25,
    "auth": 0.015,
    "entitlements": 0.025,
    "metrics": 0.25,
}
_NOT_SCRAPES = 'route!~"/metrics|/health.*"'


@dataclass(frozen=True)
class Case:
    """Input series (promtool notation) and the time to evaluate at."""

    series: tuple[tuple[str, str], ...]
    at: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """One alerting rule with its runbook anchor and the cases that test it."""

    name: str
    expr: str
    duration: str
    severity: str
    summary: str
    runbook: str
    fires: Case
    quiet: Case


@dataclass(frozen=True)
class Recording:
    """One recording rule."""

    record: str
    expr: str


@dataclass(frozen=True)
class RuleFile:
    """A rule file: one group of recording rules and alerts."""

    path: str
    group: str
    alerts: tuple[Alert, ...]
    recordings: tuple[Recording, ...] = ()


def _title(service: str) -> str:
    return service.capitalize()


def _red(service: str) -> RuleFile:
    job = f'job="{service}"'
    requests = f'http_requests_total{{{job},method="GET",route="/x"'
    buckets = f'http_request_duration_seconds_bucket{{{job},method="GET",route="/x"'
    slow = (
        (f'{buckets},le="0.01"}}', "0x30"),
        (f'{buckets},le="0.5"}}', "0+60x30"),
        (f'{buckets},le="+Inf"}}', "0+60x30"),
    )
    fast = (
        (f'{buckets},le="0.01"}}', "0+60x30"),
        (f'{buckets},le="0.5"}}', "0+60x30"),
        (f'{buckets},le="+Inf"}}', "0+60x30"),
    )
    threshold = _P95_SECONDS[service]
    return RuleFile(
        path=f"RED/{service}_red.yaml",
        group=f"{service}-red",
        alerts=(
            Alert(
                name=f"{_title(service)}Down",
                expr=f"up{{{job}}} == 0",
                duration="2m",
                severity="critical",
                summary=f"{service} is not answering Prometheus's scrapes",
                runbook="service-down",
                fires=Case(
                    ((f'up{{{job},instance="i"}}', "1 1 0x10"),),
                    "6m",
                    {"job": service, "instance": "i"},
                ),
                quiet=Case(((f'up{{{job},instance="i"}}', "1x10"),), "6m"),
            ),
            Alert(
                name=f"{_title(service)}HighErrorRate",
                expr=(
                    f'sum by (job) (rate(http_requests_total{{{job},status=~"5.."}}[5m]))\n'
                    f"  / sum by (job) (rate(http_requests_total{{{job}}}[5m])) > 0.05"
                ),
                duration="5m",
                severity="critical",
                summary=f"More than 5% of {service}'s responses are 5xx",
                runbook="high-error-rate",
                fires=Case(
                    (
                        (f'{requests},status="200"}}', "0+90x30"),
                        (f'{requests},status="503"}}', "0+10x30"),
                    ),
                    "15m",
                    {"job": service},
                ),
                quiet=Case(
                    (
                        (f'{requests},status="200"}}', "0+98x30"),
                        (f'{requests},status="503"}}', "0+2x30"),
                    ),
                    "15m",
                ),
            ),
            Alert(
                name=f"{_title(service)}HighLatency",
                expr=(
                    "histogram_quantile(0.95, sum by (job, le) (rate("
                    f"http_request_duration_seconds_bucket{{{job},{_NOT_SCRAPES}}}[5m])))"
                    f" > {threshold}"
                ),
                duration="5m",
                severity="warning",
                summary=f"{service}'s p95 latency is above {threshold * 1000:g} ms",
                runbook="high-latency",
                fires=Case(slow, "15m", {"job": service}),
                quiet=Case(fast, "15m"),
            ),
        ),
    )


def _slo() -> RuleFile:
    selector = 'job="gateway",route=~"/api/.*"'
    bucket = "http_request_duration_seconds_bucket"
    recordings = [
        Recording(
            f"slo:gateway_api_latency_seconds:p{q}_5m",
            f"histogram_quantile(0.{q}, sum by (le) (rate({bucket}{{{selector}}}[5m])))",
        )
        for q in (95, 99)
    ]
    recordings += [
        Recording(
            f"slo:gateway_api_slow_requests:ratio_rate{window}",
            f'1 - sum(rate({bucket}{{{selector},le="0.25"}}[{window}]))\n'
            f"  / sum(rate(http_request_duration_seconds_count{{{selector}}}[{window}]))",
        )
        for window in ("5m", "30m", "1h", "6h")
    ]
    series = 'http_request_duration_seconds{job="gateway",method="GET",route="/api/v1/curves/{id}"'

    def traffic(fast: int, slow: int, length: int = 420) -> tuple[tuple[str, str], ...]:
        total = fast + slow
        bucket_series = series.replace("seconds{", "seconds_bucket{")
        return (
            (f'{bucket_series},le="0.1"}}', f"0+{fast}x{length}"),
            (f'{bucket_series},le="0.25"}}', f"0+{fast}x{length}"),
            (f'{bucket_series},le="0.5"}}', f"0+{total}x{length}"),
            (f'{bucket_series},le="+Inf"}}', f"0+{total}x{length}"),
            (f"{series.replace('seconds{', 'seconds_count{')}}}", f"0+{total}x{length}"),
        )

    return RuleFile(
        path="SLO/api_latency_slo.yaml",
        group="api-latency-slo",
        recordings=tuple(recordings),
        alerts=(
            Alert(
                name="GatewayLatencyP95OverSLO",
                expr="slo:gateway_api_latency_seconds:p95_5m > 0.15",
                duration="10m",
                severity="warning",
                summary="Gateway API p95 latency is above the 150 ms objective",
                runbook="latency-slo",
                fires=Case(traffic(50, 50, 40), "30m"),
                quiet=Case(traffic(100, 0, 40), "30m"),
            ),
            Alert(
                name="GatewayLatencyP99OverSLO",
                expr="slo:gateway_api_latency_seconds:p99_5m > 0.25",
                duration="10m",
                severity="warning",
                summary="Gateway API p99 latency is above the 250 ms objective",
                runbook="latency-slo",
                fires=Case(traffic(90, 10, 40), "30m"),
                quiet=Case(traffic(100, 0, 40), "30m"),
            ),
            Alert(
                name="GatewayLatencyBudgetFastBurn",
                expr=(
                    "slo:gateway_api_slow_requests:ratio_rate1h > (14.4 * 0.01)\n"
                    "and slo:gateway_api_slow_requests:ratio_rate5m > (14.4 * 0.01)"
                ),
                duration="2m",
                severity="critical",
                summary="Gateway requests slower than 250 ms burn the monthly budget 14x too fast",
                runbook="latency-slo",
                fires=Case(traffic(80, 20, 90), "80m"),
                quiet=Case(traffic(95, 5, 90), "80m"),
            ),
            Alert(
                name="GatewayLatencyBudgetSlowBurn",
                expr=(
                    "slo:gateway_api_slow_requests:ratio_rate6h > (6 * 0.01)\n"
                    "and slo:gateway_api_slow_requests:ratio_rate30m > (6 * 0.01)"
                ),
                duration="15m",
                severity="warning",
                summary="Gateway requests slower than 250 ms burn the monthly budget 6x too fast",
                runbook="latency-slo",
                fires=Case(traffic(92, 8), "400m"),
                quiet=Case(traffic(97, 3), "400m"),
            ),
        ),
    )


def _webhooks() -> RuleFile:
    received = 'gateway_webhooks_received_total{source="tradingview"'
    webhook_bucket = "gateway_webhook_duration_seconds_bucket{"
    return RuleFile(
        path="webhooks.yaml",
        group="gateway-webhooks",
        alerts=(
            Alert(
                name="WebhookHighErrorRate",
                expr=(
                    'sum(rate(gateway_webhooks_received_total{status=~"[45].*"}[5m]))\n'
                    "  / sum(rate(gateway_webhooks_received_total[5m])) > 0.05"
                ),
                duration="5m",
                severity="critical",
                summary="More than 5% of webhooks are refused (4xx/5xx)",
                runbook="webhook-error-rate",
                fires=Case(
                    (
                        (f'{received},status="202"}}', "0+90x30"),
                        (f'{received},status="401"}}', "0+10x30"),
                    ),
                    "15m",
                ),
                quiet=Case(
                    (
                        (f'{received},status="202"}}', "0+99x30"),
                        (f'{received},status="401"}}', "0+1x30"),
                    ),
                    "15m",
                ),
            ),
            Alert(
                name="WebhookNatsUnavailable",
                expr="sum(increase(gateway_nats_errors_total[2m])) > 0",
                duration="1m",
                severity="critical",
                summary="The gateway cannot publish to NATS JetStream (GW-005)",
                runbook="nats-unavailable",
                fires=Case((("gateway_nats_errors_total", "0 0 0 3 6 9 12 15 18 21"),), "8m"),
                quiet=Case((("gateway_nats_errors_total", "0x10"),), "8m"),
            ),
            Alert(
                name="WebhookConsumerLagCritical",
                expr=(
                    "max by (stream_name, consumer_name) (\n"
                    '  jetstream_consumer_num_pending{stream_name="trading-events"}) > 1000'
                ),
                duration="1m",
                severity="critical",
                summary="A JetStream consumer of trading-events is more than 1000 messages behind",
                runbook="consumer-lag",
                fires=Case(
                    (
                        (
                            'jetstream_consumer_num_pending{stream_name="trading-events",'
                            'consumer_name="streaming"}',
                            "500 1500x10",
                        ),
                    ),
                    "5m",
                    {"stream_name": "trading-events", "consumer_name": "streaming"},
                ),
                quiet=Case(
                    (
                        (
                            'jetstream_consumer_num_pending{stream_name="trading-events",'
                            'consumer_name="streaming"}',
                            "50x10",
                        ),
                    ),
                    "5m",
                ),
            ),
            Alert(
                name="WebhookHighLatency",
                expr=(
                    "histogram_quantile(0.95, sum by (le) "
                    "(rate(gateway_webhook_duration_seconds_bucket[5m]))) > 0.2"
                ),
                duration="5m",
                severity="warning",
                summary="Webhook p95 processing time is above 200 ms",
                runbook="webhook-latency",
                fires=Case(
                    (
                        (f'{webhook_bucket}le="0.1"}}', "0x30"),
                        (f'{webhook_bucket}le="0.5"}}', "0+50x30"),
                        (f'{webhook_bucket}le="+Inf"}}', "0+50x30"),
                    ),
                    "15m",
                ),
                quiet=Case(
                    (
                        (f'{webhook_bucket}le="0.1"}}', "0+50x30"),
                        (f'{webhook_bucket}le="0.5"}}', "0+50x30"),
                        (f'{webhook_bucket}le="+Inf"}}', "0+50x30"),
                    ),
                    "15m",
                ),
            ),
            Alert(
                name="WebhookRateLimitingActive",
                expr="sum(increase(gateway_rate_limit_exceeded_total[5m])) > 0",
                duration="1m",
                severity="warning",
                summary="Webhook senders are being rate limited (GW-004)",
                runbook="rate-limiting",
                fires=Case((("gateway_rate_limit_exceeded_total", "0 0 5 10 15 20 25 30"),), "6m"),
                quiet=Case((("gateway_rate_limit_exceeded_total", "0x10"),), "6m"),
            ),
            Alert(
                name="WebhookSignatureFailureSpike",
                expr='sum(increase(gateway_validation_errors_total{type="signature"}[5m])) > 20',
                duration="1m",
                severity="warning",
                summary="A spike of webhooks with invalid signatures (GW-001)",
                runbook="signature-failures",
                fires=Case(
                    (
                        (
                            'gateway_validation_errors_total{type="signature"}',
                            "0 0 50 50 50 50 50 50",
                        ),
                    ),
                    "5m",
                ),
                quiet=Case(
                    (('gateway_validation_errors_total{type="signature"}', "0 0 2 2 3 3 3 3"),),
                    "5m",
                ),
            ),
            Alert(
                name="WebhookBackpressure",
                expr="sum(increase(gateway_backpressure_total[5m])) > 0",
                duration="1m",
                severity="warning",
                summary="Webhooks are held back by the publish buffer (NATS slow or down)",
                runbook="nats-unavailable",
                fires=Case((("gateway_backpressure_total", "0 0 4 8 12 16 20"),), "5m"),
                quiet=Case((("gateway_backpressure_total", "0x8"),), "5m"),
            ),
        ),
    )


def _streaming_and_metrics() -> RuleFile:
    lag = 'streaming_delivery_lag_seconds_bucket{topic="pricing.curve.updates.v1"'
    return RuleFile(
        path="edge.yaml",
        group="edge",
        alerts=(
            Alert(
                name="StreamingDeliveryLagHigh",
                expr=(
                    "histogram_quantile(0.95, sum by (le) "
                    "(rate(streaming_delivery_lag_seconds_bucket[5m]))) > 0.25"
                ),
                duration="5m",
                severity="warning",
                summary="Bus-to-client delivery p95 is above the 250 ms objective",
                runbook="delivery-lag",
                fires=Case(
                    (
                        (f'{lag},le="0.1"}}', "0x30"),
                        (f'{lag},le="1"}}', "0+40x30"),
                        (f'{lag},le="+Inf"}}', "0+40x30"),
                    ),
                    "15m",
                ),
                quiet=Case(
                    (
                        (f'{lag},le="0.1"}}', "0+40x30"),
                        (f'{lag},le="1"}}', "0+40x30"),
                        (f'{lag},le="+Inf"}}', "0+40x30"),
                    ),
                    "15m",
                ),
            ),
            Alert(
                name="StreamingSendErrors",
                expr="sum(increase(streaming_send_errors_total[5m])) > 10",
                duration="5m",
                severity="warning",
                summary="Streaming is failing to write to subscribers' connections",
                runbook="send-errors",
                fires=Case((("streaming_send_errors_total", "0+5x30"),), "15m"),
                quiet=Case((("streaming_send_errors_total", "0+0x30"),), "15m"),
            ),
            Alert(
                name="MetricsSamplesRefused",
                expr="sum by (reason) (rate(metrics_samples_refused_total[10m])) > 0",
                duration="10m",
                severity="warning",
                summary="The metrics service keeps refusing pushed samples",
                runbook="samples-refused",
                fires=Case(
                    (('metrics_samples_refused_total{reason="series_limit_exceeded"}', "0+3x40"),),
                    "25m",
                    {"reason": "series_limit_exceeded"},
                ),
                quiet=Case(
                    (('metrics_samples_refused_total{reason="series_limit_exceeded"}', "0x40"),),
                    "25m",
                ),
            ),
            Alert(
                name="MetricsPushDropped",
                expr="sum by (job, reason) (rate(metrics_push_dropped_samples_total[10m])) > 0",
                duration="10m",
                severity="warning",
                summary="A service is dropping samples it should push to the metrics service",
                runbook="push-dropped",
                fires=Case(
                    (
                        (
                            'metrics_push_dropped_samples_total{job="gateway",'
                            'reason="unreachable"}',
                            "0+30x40",
                        ),
                    ),
                    "25m",
                    {"job": "gateway", "reason": "unreachable"},
                ),
                quiet=Case(
                    (
                        (
                            'metrics_push_dropped_samples_total{job="gateway",'
                            'reason="unreachable"}',
                            "0x40",
                        ),
                    ),
                    "25m",
                ),
            ),
            Alert(
                name="AuthJwksStale",
                expr="max by (job) (auth_jwks_age_seconds) > 7200",
                duration="10m",
                severity="warning",
                summary="Auth has not loaded Keycloak's keys for two hours",
                runbook="jwks-stale",
                fires=Case(
                    (('auth_jwks_age_seconds{job="auth"}', "7000+60x30"),), "25m", {"job": "auth"}
                ),
                quiet=Case((('auth_jwks_age_seconds{job="auth"}', "60x30"),), "25m"),
            ),
        ),
    )


def rule_files() -> list[RuleFile]:
    """Every rule file of the access layer."""
    return [*(_red(s) for s in SERVICES), _slo(), _webhooks(), _streaming_and_metrics()]
