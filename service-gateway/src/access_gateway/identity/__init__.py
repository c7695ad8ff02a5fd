"""Caller identity: bearer tokens, verified principals, the principal cache."""

from access_gateway.identity.principals import Principals, bearer_token

__all__ = ["Principals", "bearer_token"]
