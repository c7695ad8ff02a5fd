"""Private pieces of the NATS JetStream bus; the public face is ``nats_bus``."""

__all__: list[str] = []
