"""The 254Carbon Access Layer auth service."""
