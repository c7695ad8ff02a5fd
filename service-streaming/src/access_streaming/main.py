"""Process entry point: `access-streaming` or `python -m access_streaming`."""

from __future__ import annotations

from access_common.run import serve
from access_streaming.settings import StreamingSettings

__all__ = ["run"]


def run() -> None:
    """Start the streaming service with settings from the environment."""
    serve("access_streaming.app:create_app", StreamingSettings, service="streaming")
