"""Resume from the broker: positions clients send, and the replay that honours them."""

from access_streaming.resume.positions import Since, parse_last_event_id, parse_since
from access_streaming.resume.replay import Replay

__all__ = ["Replay", "Since", "parse_last_event_id", "parse_since"]
