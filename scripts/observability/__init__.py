"""Generators of the observability assets (dashboards, alert rules and their tests)."""
