"""Per-source policy, built once from settings: scheme, payload shape, allowed senders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from access_gateway.identity.client_ip import Network, parse_ip
from access_gateway.webhooks.schemes import HmacScheme, StandardScheme, TokenScheme
from access_gateway.webhooks.settings import SourceConfig, WebhookSettings

__all__ = ["SourcePolicy", "build_policies"]

_JSON = ("application/json",)
# TradingView posts text/plain when the alert message is not itself valid JSON.
_TRADINGVIEW = ("application/json", "text/plain")


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    """How one source is authenticated and parsed."""

    name: str
    shape: str
    scheme: HmacScheme | StandardScheme | TokenScheme
    allowed_ips: tuple[Network, ...]
    media_types: tuple[str, ...]

    def accepts(self, media: str) -> bool:
        """True for the source's media types and any ``+json`` type."""
        return media in self.media_types or media.endswith("+json")

    def allows(self, client: str) -> bool:
        """True when the client address is inside the source's allow-list."""
        address = parse_ip(client)
        return address is not None and any(address in net for net in self.allowed_ips)


def _scheme(
    config: SourceConfig, settings: WebhookSettings, clock: Callable[[], float]
) -> HmacScheme | StandardScheme | TokenScheme:
    window = settings.webhook_replay_window_sec
    secrets = [s.get_secret_value() for s in config.secrets]
    if config.scheme == "standard":
        return StandardScheme(secrets, window_seconds=window, clock=clock)
    if config.scheme == "token":
        return TokenScheme(secrets, token_in=config.token_in, field=config.token_field)
    hmac_secrets = secrets or [s.get_secret_value() for s in settings.hmac_secrets()]
    return HmacScheme([s.encode() for s in hmac_secrets], window_seconds=window, clock=clock)


def build_policies(
    settings: WebhookSettings, clock: Callable[[], float]
) -> dict[str, SourcePolicy]:
    """The policy of every served source (ALLOWED_SOURCES plus ``generic``)."""
    policies: dict[str, SourcePolicy] = {}
    for name in settings.served_sources():
        config = settings.webhook_sources.get(name) or SourceConfig()
        shape = config.shape or ("tradingview" if name == "tradingview" else "generic")
        policies[name] = SourcePolicy(
            name=name,
            shape=shape,
            scheme=_scheme(config, settings, clock),
            allowed_ips=config.allowed_ips,
            media_types=_TRADINGVIEW if shape == "tradingview" else _JSON,
        )
    return policies
