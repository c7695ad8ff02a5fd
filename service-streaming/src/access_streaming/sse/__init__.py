"""Server-Sent Events: ``/sse/stream``, ``/sse/subscribe``, ``/sse/unsubscribe``."""
