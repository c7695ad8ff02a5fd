"""The 254Carbon Access Layer streaming service."""
