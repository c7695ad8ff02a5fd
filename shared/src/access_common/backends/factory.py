"""Choose each backend from settings: the real engine when configured, embedded otherwise."""

from __future__ import annotations

from pathlib import Path

from access_common.backends.bus import Bus
from access_common.backends.kafka_bus import KafkaBus
from access_common.backends.kv import KeyValue
from access_common.backends.memory_bus import MemoryBus
from access_common.backends.memory_kv import MemoryKeyValue
from access_common.backends.nats_bus import NatsBus
from access_common.backends.postgres_store import PostgresStore
from access_common.backends.redis_kv import RedisKeyValue
from access_common.backends.sqlite_store import SqliteStore
from access_common.backends.store import Store
from access_common.settings import BusSettings, KvSettings, StoreSettings

__all__ = ["make_bus", "make_kafka_bus", "make_kv", "make_store"]


def make_kv(settings: KvSettings) -> KeyValue:
    """Redis when ``ACCESS_REDIS_URL`` is set, otherwise in-process."""
    if settings.redis_url:
        return RedisKeyValue(settings.redis_url, ssl=settings.redis_ssl_enabled)
    return MemoryKeyValue()


def make_store(settings: StoreSettings, *, default_path: Path) -> Store:
    """PostgreSQL when ``ACCESS_POSTGRES_DSN`` is set, otherwise a SQLite file."""
    if settings.postgres_dsn:
        return PostgresStore(settings.postgres_dsn)
    return SqliteStore(settings.sqlite_path or default_path)


def make_bus(settings: BusSettings) -> Bus:
    """NATS JetStream when ``ACCESS_NATS_URL`` is set, otherwise in-process."""
    if settings.nats_url:
        return NatsBus(settings.nats_url)
    return MemoryBus()


def make_kafka_bus(settings: BusSettings) -> Bus | None:
    """Kafka when ``ACCESS_KAFKA_BOOTSTRAP`` is set, otherwise None (no Kafka source)."""
    if settings.kafka_bootstrap:
        return KafkaBus(settings.kafka_bootstrap)
    return None
