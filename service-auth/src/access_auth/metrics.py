"""The auth service's own Prometheus metrics, registered on the app's registry."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["AuthMetrics"]

# Verification is CPU work in tens of microseconds: the buckets start at 50 µs.
_VERIFY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
_REFRESH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class AuthMetrics:
    """Verification results and latency; JWKS refreshes, age and key count."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.verifications = Counter(
            "auth_verifications_total",
            "Token verifications by result (ok or the error code)",
            ("result",),
            registry=registry,
        )
        self.verification_seconds = Histogram(
            "auth_verification_seconds",
            "Time to verify one token, key lookup included",
            buckets=_VERIFY_BUCKETS,
            registry=registry,
        )
        self.jwks_refreshes = Counter(
            "auth_jwks_refresh_total",
            "JWKS fetches by result (ok, http_error, unreachable, invalid, empty)",
            ("result",),
            registry=registry,
        )
        self.jwks_refresh_seconds = Histogram(
            "auth_jwks_refresh_seconds",
            "Time to fetch and parse the JWKS",
            buckets=_REFRESH_BUCKETS,
            registry=registry,
        )
        # Set at scrape time (update_age); with several workers, the answering one's age.
        self.jwks_age = Gauge(
            "auth_jwks_age_seconds",
            "Seconds since the key set was last loaded (+Inf when never loaded)",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self._age: Callable[[], float] | None = None
        self.jwks_keys = Gauge(
            "auth_jwks_keys",
            "Usable signing keys in the current key set",
            registry=registry,
            multiprocess_mode="max",
        )
        self._results: dict[str, Counter] = {}  # labels() per verification costs a lock

    def observe_verification(self, result: str, seconds: float) -> None:
        """Record one verification outcome."""
        counter = self._results.get(result)
        if counter is None:
            counter = self._results[result] = self.verifications.labels(result)
        counter.inc()
        self.verification_seconds.observe(seconds)

    def observe_refresh(self, result: str, seconds: float) -> None:
        """Record one JWKS fetch."""
        self.jwks_refreshes.labels(result).inc()
        self.jwks_refresh_seconds.observe(seconds)

    def track_age(self, age: Callable[[], float]) -> None:
        """Compute the JWKS age at scrape time."""
        self._age = age
        self.update_age()

    def update_age(self) -> None:
        """Set the JWKS age gauge now (the app calls this before each scrape)."""
        if self._age is not None:
            self.jwks_age.set(self._age())
