"""The Grafana dashboards of the access layer, as data (python -m scripts.observability.build).

Each panel is a list of PromQL queries; ``tests/observability`` checks that every query
parses and names only metrics the services export, and that a real Prometheus scraping
a local run answers each one with data.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FILES", "dashboards", "panel_queries"]

_NOT_SCRAPES = 'route!~"/metrics|/health.*"'
_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _quantiles(metric: str, selector: str = "") -> list[tuple[str, str]]:
    selector = "{" + selector + "}" if selector else ""
    return [
        (
            f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{selector}[5m])))",
            f"p{round(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


def _red(job: str) -> list[tuple[str, list[tuple[str, str]], str]]:
    """Rate, errors, duration of one service's HTTP routes (the platform's RED metrics)."""
    sel = f'job="{job}"'
    return [
        (
            "Requests per second by route",
            [
                (
                    f"sum by (route) (rate(http_requests_total{{{sel},{_NOT_SCRAPES}}}[5m]))",
                    "{{route}}",
                )
            ],
            "reqps",
        ),
        (
            "5xx error ratio",
            [
                (
                    f'(sum(rate(http_requests_total{{{sel},status=~"5.."}}[5m])) or vector(0))\n'
                    f"  / sum(rate(http_requests_total{{{sel}}}[5m]))",
                    "5xx",
                )
            ],
            "percentunit",
        ),
        (
            "Responses per second by status",
            [(f"sum by (status) (rate(http_requests_total{{{sel}}}[5m]))", "{{status}}")],
            "reqps",
        ),
        (
            "Latency p50 / p95 / p99",
            _quantiles("http_request_duration_seconds", f"{sel},{_NOT_SCRAPES}"),
            "s",
        ),
        ("Requests in flight", [(f"sum(http_requests_in_flight{{{sel}}})", "in flight")], "short"),
    ]


def _gateway_overview() -> list[tuple[str, list[tuple[str, str]], str]]:
    return [
        *_red("gateway"),
        (
            "Cache hit ratio (hits and stale serves over lookups)",
            [
                (
                    'sum(rate(gateway_cache_requests_total{result=~"hit|stale"}[5m]))\n'
                    "  / sum(rate(gateway_cache_requests_total[5m]))",
                    "hit ratio",
                )
            ],
            "percentunit",
        ),
    ]


def _served_cache() -> list[tuple[str, list[tuple[str, str]], str]]:
    return [
        (
            "Cache warm: queries per result (last hour)",
            [("sum by (result) (increase(gateway_served_cache_warm_total[1h]))", "{{result}}")],
            "short",
        ),
        (
            "Cache warm duration p50 / p95 / p99",
            _quantiles("gateway_served_cache_warm_duration_seconds"),
            "s",
        ),
        (
            "Projection age of served answers p50 / p95 / p99",
            _quantiles("gateway_served_projection_age_seconds"),
            "s",
        ),
    ]


def _webhooks() -> list[tuple[str, list[tuple[str, str]], str]]:
    # The first five panels are seed 004's "Primary Dashboard Panels", query for query.
    return [
        (
            "Request rate by source and status",
            [
                (
                    "sum(rate(gateway_webhooks_received_total[5m])) by (source, status)",
                    "{{source}} {{status}}",
                )
            ],
            "reqps",
        ),
        (
            "Error rate (4xx + 5xx)",
            [
                (
                    '(sum(rate(gateway_webhooks_received_total{status=~"[45].*"}[5m]))'
                    " or vector(0)) / sum(rate(gateway_webhooks_received_total[5m]))",
                    "errors",
                )
            ],
            "percentunit",
        ),
        (
            "Latency p95 / p99",
            [
                (
                    "histogram_quantile(0.95,"
                    " sum(rate(gateway_webhook_duration_seconds_bucket[5m])) by (le))",
                    "p95",
                ),
                (
                    "histogram_quantile(0.99,"
                    " sum(rate(gateway_webhook_duration_seconds_bucket[5m])) by (le))",
                    "p99",
                ),
            ],
            "s",
        ),
        (
            "NATS publish success",
            [('sum(rate(gateway_nats_publish_total{status="success"}[5m]))', "published/s")],
            "ops",
        ),
        (
            "Backpressure events",
            [("increase(gateway_backpressure_total[5m])", "backpressure")],
            "short",
        ),
        (
            "NATS publishes by status and errors",
            [
                ("sum by (status) (rate(gateway_nats_publish_total[5m]))", "{{status}}"),
                ("sum(rate(gateway_nats_errors_total[5m]))", "errors"),
            ],
            "ops",
        ),
        (
            "Validation errors by type",
            [("sum by (type) (rate(gateway_validation_errors_total[5m]))", "{{type}}")],
            "ops",
        ),
        (
            "Rate limited and idempotency conflicts",
            [
                ("sum(rate(gateway_rate_limit_exceeded_total[5m]))", "rate limited (GW-004)"),
                ("sum(rate(gateway_idempotency_conflicts_total[5m]))", "duplicates (GW-006)"),
            ],
            "ops",
        ),
    ]


def _streaming() -> list[tuple[str, list[tuple[str, str]], str]]:
    return [
        ("Active connections", [("sum(streaming_active_connections)", "connections")], "short"),
        (
            "Connections opened per second",
            [
                ("sum(rate(websocket_connections_total[5m]))", "WebSocket"),
                ("sum(rate(sse_connections_total[5m]))", "SSE"),
            ],
            "ops",
        ),
        (
            "Fan-out: messages per second",
            [
                ("sum(rate(messages_sent_total[5m]))", "sent to clients"),
                ("sum(rate(messages_received_total[5m]))", "received from clients"),
                # Read from the bus each topic is on: Kafka, or NATS (the local default).
                (
                    'sum by (bus) (label_replace(rate(kafka_messages_consumed_total[5m]), "bus", '
                    '"Kafka", "", "") or label_replace(rate(nats_messages_consumed_total[5m]), '
                    '"bus", "NATS", "", ""))',
                    "consumed from {{bus}}",
                ),
            ],
            "ops",
        ),
        ("Subscriptions", [("sum(subscriptions_total)", "subscriptions")], "short"),
        (
            "Delivery lag p95 by topic (bus to socket)",
            [
                (
                    "histogram_quantile(0.95, sum by (le, topic) "
                    "(rate(streaming_delivery_lag_seconds_bucket[5m])))",
                    "{{topic}}",
                )
            ],
            "s",
        ),
        (
            "Send errors per second",
            # 0, not "no data", until the first error (its series exist from then on).
            [("sum(rate(streaming_send_errors_total[5m])) or vector(0)", "send errors")],
            "ops",
        ),
        *_red("streaming"),
    ]


def _auth() -> list[tuple[str, list[tuple[str, str]], str]]:
    return [
        (
            "Verifications per second by result",
            [("sum by (result) (rate(auth_verifications_total[5m]))", "{{result}}")],
            "ops",
        ),
        ("Verification time p50 / p95 / p99", _quantiles("auth_verification_seconds"), "s"),
        (
            "JWKS refreshes by result (last hour)",
            [("sum by (result) (increase(auth_jwks_refresh_total[1h]))", "{{result}}")],
            "short",
        ),
        (
            "JWKS age and usable keys",
            [("max(auth_jwks_age_seconds)", "age (s)"), ("min(auth_jwks_keys)", "keys")],
            "short",
        ),
        *_red("auth"),
    ]


def _metrics() -> list[tuple[str, list[tuple[str, str]], str]]:
    return [
        (
            "Samples accepted per second by type",
            [("sum by (type) (rate(metrics_samples_accepted_total[5m]))", "{{type}}")],
            "ops",
        ),
        (
            "Samples refused per second by reason",
            [("sum by (reason) (rate(metrics_samples_refused_total[5m]))", "{{reason}}")],
            "ops",
        ),
        (
            "Series per pushed metric (top 10)",
            [("topk(10, max by (metric) (metrics_series))", "{{metric}}")],
            "short",
        ),
        (
            "Ingest time per request p50 / p95 / p99",
            _quantiles("metrics_ingest_duration_seconds"),
            "s",
        ),
        (
            "Families and exporting replicas",
            [
                ("max(metrics_families)", "families"),
                ("sum(metrics_exporter_leader)", "exporting replicas (1 expected)"),
            ],
            "short",
        ),
        (
            "Pushers: samples sent and dropped per second",
            [
                ("sum by (job) (rate(metrics_push_sent_samples_total[5m]))", "{{job}} sent"),
                (
                    "sum by (job, reason) (rate(metrics_push_dropped_samples_total[5m]))",
                    "{{job}} dropped ({{reason}})",
                ),
            ],
            "ops",
        ),
        *_red("metrics"),
    ]


FILES: dict[str, tuple[str, Any]] = {
    "gateway_overview.json": ("Access / Gateway overview", _gateway_overview),
    "gateway_served_cache.json": ("Access / Gateway served cache", _served_cache),
    "gateway_webhooks.json": ("Access / Webhook ingestion", _webhooks),
    "streaming.json": ("Access / Streaming", _streaming),
    "auth.json": ("Access / Auth", _auth),
    "entitlements.json": ("Access / Entitlements", lambda: _red("entitlements")),
    "metrics.json": ("Access / Metrics service", _metrics),
}


def _panel(index: int, title: str, queries: list[tuple[str, str]], unit: str) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "datasource": _DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                "datasource": _DATASOURCE,
            }
            for i, (expr, legend) in enumerate(queries)
        ],
    }


def dashboards() -> dict[str, dict[str, Any]]:
    """{file name: Grafana dashboard JSON model}."""
    out: dict[str, dict[str, Any]] = {}
    for file_name, (title, panels) in FILES.items():
        uid = "access-" + file_name.removesuffix(".json").replace("_", "-")
        out[file_name] = {
            "uid": uid,
            "title": title,
            "tags": ["254carbon-access"],
            "timezone": "utc",
            "schemaVersion": 39,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-1h", "to": "now"},
            "templating": {
                "list": [
                    {
                        "name": "datasource",
                        "label": "Prometheus",
                        "type": "datasource",
                        "query": "prometheus",
                        "current": {},
                    }
                ]
            },
            "panels": [_panel(i, *spec) for i, spec in enumerate(panels())],
        }
    return out


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL) of every query of every panel."""
    return [
        (file_name, panel["title"], target["expr"])
        for file_name, dashboard in dashboards().items()
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]
