"""Live configuration: reloading the route table and rate-limit files."""

from access_gateway.config.watcher import ConfigWatcher

__all__ = ["ConfigWatcher"]
