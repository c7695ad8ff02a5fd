"""Parse resume positions: a WebSocket ``since`` object and an SSE ``Last-Event-ID``.

A position is the offset of the **last message the client received** per topic and
partition (Kafka offset, or JetStream stream sequence on partition 0); the replay starts
at the next one. ``Last-Event-ID`` is the ``id:`` of the last SSE data event,
``<topic>:<partition>:<offset>``.
"""

from __future__ import annotations

from access_common.errors import AccessError
from access_streaming.errors import MessageMalformed
from access_streaming.topics import check_topic_name

__all__ = ["Since", "parse_last_event_id", "parse_since"]

# topic -> partition -> last offset received
Since = dict[str, dict[int, int]]

_MAX_PARTITIONS = 1024
_MAX_OFFSET = 2**63 - 1


def _offset(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= _MAX_OFFSET:
        raise MessageMalformed("since offsets are integers >= -1 (the last offset received)")
    return value


def _partition(value: object) -> int:
    try:
        partition = int(str(value))
    except ValueError:
        raise MessageMalformed("since partitions are integers") from None
    if not 0 <= partition < _MAX_PARTITIONS:
        raise MessageMalformed(f"since partitions are 0..{_MAX_PARTITIONS - 1}")
    return partition


def parse_since(raw: object) -> Since:
    """``{"<topic>": {"<partition>": <offset>}}`` → Since; MessageMalformed when wrong."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MessageMalformed('since is {"<topic>": {"<partition>": <last offset received>}}')
    since: Since = {}
    for topic, partitions in raw.items():
        name = check_topic_name(topic)
        if not isinstance(partitions, dict) or len(partitions) > _MAX_PARTITIONS:
            raise MessageMalformed(f"since.{name} is an object of partition -> offset")
        since[name] = {_partition(p): _offset(o) for p, o in partitions.items()}
    return since


def parse_last_event_id(value: str | None) -> Since:
    """``<topic>:<partition>:<offset>`` → Since (empty when absent or not ours)."""
    if not value:
        return {}
    topic, _, rest = value.strip().rpartition(":")
    topic, _, partition = topic.rpartition(":")
    try:
        return {check_topic_name(topic): {_partition(partition): _offset(int(rest))}}
    except (ValueError, AccessError):
        # A browser sends back whatever id it saw last; one we cannot read is ignored.
        return {}
