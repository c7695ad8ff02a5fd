"""Typed clients of the services, used by the others (never a service's own package)."""

from access_common.clients.auth import AuthClient, VerifiedPrincipal

__all__ = ["AuthClient", "VerifiedPrincipal"]
