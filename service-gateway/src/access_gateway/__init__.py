"""The 254Carbon Access Layer gateway service."""
