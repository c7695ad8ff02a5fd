"""Administration: who may manage a tenant's rules (bearer token, admin role, same tenant)."""
