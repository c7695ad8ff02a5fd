"""The 254Carbon Access Layer entitlements service."""
