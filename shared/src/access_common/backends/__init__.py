"""Backends behind one small interface each: key-value, relational store, event bus."""

from access_common.backends.bus import Bus, Message, StartPosition, Subscription
from access_common.backends.factory import make_bus, make_kafka_bus, make_kv, make_store
from access_common.backends.kv import KeyValue
from access_common.backends.store import Migration, Row, Store, Transaction

__all__ = [
    "Bus",
    "KeyValue",
    "Message",
    "Migration",
    "Row",
    "StartPosition",
    "Store",
    "Subscription",
    "Transaction",
    "make_bus",
    "make_kafka_bus",
    "make_kv",
    "make_store",
]
