"""Bus readers: one broadcast reader per topic that has subscribers."""

from access_streaming.bus.readers import BusStats, TopicReaders

__all__ = ["BusStats", "TopicReaders"]
