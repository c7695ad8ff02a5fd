"""Who a connection belongs to: tokens verified by the auth service, remembered per token."""

from access_streaming.auth.principals import PrincipalCache

__all__ = ["PrincipalCache"]
