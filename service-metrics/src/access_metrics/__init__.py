"""The 254Carbon Access Layer metrics service."""
