"""What the auth service holds for its lifetime: key sources, verifier and dev issuer.

Built in the app's lifespan (nothing happens at import or in ``create_app``). A JWKS that
cannot be reached at start does not stop the service: it serves KEYS_UNAVAILABLE (503)
and reports ``jwks`` down until the background refresher loads the keys.
"""

from __future__ import annotations

import asyncio
import logging

from access_auth.dev.issuer import DevIssuer
from access_auth.errors import KeysUnavailable
from access_auth.jwks.cache import HttpGetter, JwksCache
from access_auth.jwks.fallback import FallbackKeys
from access_auth.jwks.source import KeySource, StaticKeySource
from access_auth.metrics import AuthMetrics
from access_auth.settings import AuthSettings
from access_auth.validation.claims import ClaimsPolicy
from access_auth.validation.verifier import TokenVerifier

__all__ = ["AuthRuntime", "claims_policy"]

logger = logging.getLogger("access_auth")


def claims_policy(settings: AuthSettings) -> ClaimsPolicy:
    """The claims rules of this deployment."""
    return ClaimsPolicy(
        issuer=settings.expected_issuer,
        audiences=frozenset(settings.jwt_audience),
        client_id=settings.jwt_client_id,
        tenant_claim=settings.jwt_tenant_claim,
        tenant_required=settings.jwt_tenant_required,
        leeway=settings.jwt_leeway_seconds,
    )


class AuthRuntime:
    """The verifier and its key sources, started and stopped with the app."""

    def __init__(
        self,
        settings: AuthSettings,
        *,
        verifier: TokenVerifier,
        cache: JwksCache | None = None,
        dev_issuer: DevIssuer | None = None,
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.cache = cache
        self.dev_issuer = dev_issuer

    @classmethod
    async def start(
        cls, settings: AuthSettings, *, http: HttpGetter | None, metrics: AuthMetrics
    ) -> AuthRuntime:
        """Load the dev key and fallback keys, make the first JWKS fetch, start refreshing."""
        allowed = frozenset(settings.jwt_algorithms)
        dev_issuer = None
        if settings.dev_issuer_enabled:
            dev_issuer = await asyncio.to_thread(DevIssuer.from_settings, settings)
        fallback = await asyncio.to_thread(FallbackKeys.from_settings, settings)
        primary: KeySource | None = None
        cache: JwksCache | None = None
        if settings.jwks_url is not None:
            if http is None:
                raise ValueError("an HTTP client is required when ACCESS_JWKS_URL is set")
            cache = JwksCache(
                settings.jwks_url,
                http,
                allowed=allowed,
                ttl=settings.jwks_cache_ttl_seconds,
                min_refresh_interval=settings.jwks_min_refresh_interval_seconds,
                max_bytes=settings.jwks_max_bytes,
                metrics=metrics,
            )
            await cache.refresh("startup")
            cache.start()
            primary = cache
        elif dev_issuer is not None:
            primary = StaticKeySource(dev_issuer.key_set())
            metrics.jwks_keys.set(1)
            metrics.track_age(primary.age)
        else:
            logger.warning("no ACCESS_JWKS_URL: every verification answers KEYS_UNAVAILABLE")
        if settings.expected_issuer is None:
            logger.warning("ACCESS_JWT_ISSUER is not set: the iss claim is not checked (local)")
        verifier = TokenVerifier(
            primary=primary,
            policy=claims_policy(settings),
            allowed=allowed,
            fallback=fallback,
            max_token_bytes=settings.jwt_max_token_bytes,
            metrics=metrics,
            retry_after=max(settings.jwks_min_refresh_interval_seconds, 1.0),
            recent_size=settings.jwt_recent_tokens,
        )
        logger.info(
            "auth ready",
            extra={
                "key_source": "jwks" if cache else ("dev" if primary else "none"),
                "fallback": fallback is not None,
                "dev_issuer": dev_issuer is not None,
            },
        )
        return cls(settings, verifier=verifier, cache=cache, dev_issuer=dev_issuer)

    async def jwks_health(self) -> str | None:
        """Health of the key source: ok, degraded (stale/failing, or fallback), down."""
        primary = self.verifier.primary
        status = primary.status() if primary is not None else "down"
        if status == "down":
            if self.verifier.fallback is not None:
                return "degraded"  # the fallback keys still verify
            raise KeysUnavailable
        return None if status == "ok" else "degraded"

    async def aclose(self) -> None:
        """Stop background refreshing."""
        if self.cache is not None:
            await self.cache.aclose()
