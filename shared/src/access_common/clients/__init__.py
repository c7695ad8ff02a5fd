"""Typed clients of the services, used by the others (never a service's own package)."""

from access_common.clients.auth import AuthClient, VerifiedPrincipal
from access_common.clients.entitlements import Decision, EntitlementsClient, Subject

__all__ = ["AuthClient", "Decision", "EntitlementsClient", "Subject", "VerifiedPrincipal"]
