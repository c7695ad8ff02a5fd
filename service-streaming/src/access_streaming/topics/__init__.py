"""The topic registry: which topics exist, on which bus, behind which entitlement."""

from access_streaming.topics.registry import BusName, Topic, TopicRegistry, check_topic_name

__all__ = ["BusName", "Topic", "TopicRegistry", "check_topic_name"]
