"""The fan-out: filters, frames encoded once, and the hub that dispatches bus messages."""

from access_streaming.fanout.filters import Filter, parse_filters
from access_streaming.fanout.frames import (
    KEEPALIVE,
    Comment,
    ControlFrame,
    DataFrame,
    Frame,
    SnapshotFrame,
    control,
)
from access_streaming.fanout.hub import Hub

__all__ = [
    "KEEPALIVE",
    "Comment",
    "ControlFrame",
    "DataFrame",
    "Filter",
    "Frame",
    "Hub",
    "SnapshotFrame",
    "control",
    "parse_filters",
]
