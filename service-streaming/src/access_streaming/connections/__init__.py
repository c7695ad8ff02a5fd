"""Subscriber connections, their limits and their bookkeeping."""

from access_streaming.connections.connection import (
    CloseCode,
    Connection,
    Owner,
    Protocol,
    Writer,
)
from access_streaming.connections.slots import ConnectionSlots, Lease

__all__ = ["CloseCode", "Connection", "ConnectionSlots", "Lease", "Owner", "Protocol", "Writer"]
