"""``GET /stats``: connections, messages, subscriptions and bus readers, seed 003's shape."""
