"""Subscribing connections to topics: validation, entitlements, the hub and the readers."""

from access_streaming.subscriptions.service import SubscribeOutcome, Subscriptions

__all__ = ["SubscribeOutcome", "Subscriptions"]
