"""Tests of the entitlements service."""
