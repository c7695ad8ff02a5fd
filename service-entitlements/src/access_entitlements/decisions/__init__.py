"""Decisions: check and check-batch, the two-tier cache and the adaptive TTL."""
