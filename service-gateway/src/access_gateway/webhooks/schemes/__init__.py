"""How a source proves a webhook is its own: seed HMAC, Standard Webhooks, or a token."""

from access_gateway.webhooks.schemes.base import Verified
from access_gateway.webhooks.schemes.seed_hmac import HmacScheme
from access_gateway.webhooks.schemes.standard import StandardScheme
from access_gateway.webhooks.schemes.token import TokenScheme

__all__ = ["HmacScheme", "StandardScheme", "TokenScheme", "Verified"]
