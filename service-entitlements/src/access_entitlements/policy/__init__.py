"""Per-tenant policy: versions, their propagation between replicas, compiled rules, bootstrap."""
