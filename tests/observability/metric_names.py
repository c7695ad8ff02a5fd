"""The metric names the code exports, read from each service's app registry.

A registry lists every family, labelled ones included, before any sample exists, so
the names are known without driving traffic.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import promql_parser
from prometheus_client import CollectorRegistry

from access_common.clients.metrics import MetricsClient
from access_common.http import HttpClient
from access_common.pusher import MetricsPusher

__all__ = ["EXTERNAL", "exported_names", "names_in"]

SERVICES = ("gateway", "streaming", "auth", "entitlements", "metrics")

# ---------------------------------------------------------------------------------------

# Not ours: Prometheus's own `up`, and the NATS exporter's consumer lag (seed 004's alert).
EXTERNAL = frozenset({"up", "jetstream_consumer_num_pending"})

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}


def _registry_names(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def exported_names() -> set[str]:
    """Every sample name the five services and the access_common pusher export."""
    names: set[str] = set()
    for service in SERVICES:
        app = importlib.import_module(f"access_{service}.app").create_app()
        names |= _registry_names(app.state.metrics.registry)
    registry = CollectorRegistry()
    MetricsPusher(MetricsClient(HttpClient(), "http://metrics"), source="x", registry=registry)
    return names | _registry_names(registry)


def names_in(query: str) -> set[str]:
    """The metric names a PromQL query selects (parsed by promql-parser)."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                found.add(node.name)
            return
        if isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, promql_parser.BinaryExpr):
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(node, promql_parser.AggregateExpr):
            walk(node.expr)
            if node.param is not None:
                walk(node.param)
        elif isinstance(node, promql_parser.Call):
            for arg in _args(node.args):
                walk(arg)
        elif isinstance(
            node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr
        ):
            walk(node.expr)

    walk(promql_parser.parse(query))
    return found


def _args(args: object) -> Iterable[object]:
    return list(args) if isinstance(args, Iterable) else [args]
