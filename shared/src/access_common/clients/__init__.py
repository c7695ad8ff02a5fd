"""Typed clients of the services, used by the others (never a service's own package)."""

from access_common.clients.auth import AuthClient, VerifiedPrincipal
from access_common.clients.entitlements import Decision, EntitlementsClient, Subject
from access_common.clients.metrics import MetricsClient, TrackResult

__all__ = [
    "AuthClient",
    "Decision",
    "EntitlementsClient",
    "MetricsClient",
    "Subject",
    "TrackResult",
    "VerifiedPrincipal",
]
