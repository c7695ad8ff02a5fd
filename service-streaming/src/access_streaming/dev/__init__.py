"""Local-only helpers: the development feed and the publish endpoint (``ACCESS_ENV=local``)."""
