"""Who may administer: a bearer token the auth service verifies, with ``admin`` in its tenant."""

from __future__ import annotations

from dataclasses import dataclass

from access_common.clients import AuthClient
from access_common.errors import Unauthorized
from access_entitlements.errors import AdminRoleRequired, TenantMismatch, TenantRequired

__all__ = ["ADMIN_ROLE", "Admin", "authenticate", "own_tenant"]

ADMIN_ROLE = "admin"
_MISSING_CHALLENGE = 'Bearer realm="access"'


@dataclass(frozen=True, slots=True)
class Admin:
    """A verified administrator of one tenant."""

    user_id: str
    tenant_id: str


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    token = value.strip()
    return token if scheme.lower() == "bearer" and token else None


async def authenticate(auth: AuthClient, authorization: str | None) -> Admin:
    """Verify the token through the auth service; it must carry a tenant and ``admin``."""
    token = _bearer(authorization)
    if token is None:
        raise Unauthorized(
            "A bearer token is required",
            code="TOKEN_MISSING",
            headers={"WWW-Authenticate": _MISSING_CHALLENGE},
        )
    principal = await auth.verify(token)
    if not principal.tenant_id:
        raise TenantRequired
    if ADMIN_ROLE not in principal.roles:
        raise AdminRoleRequired(details={"required_role": ADMIN_ROLE})
    return Admin(principal.sub, principal.tenant_id)


def own_tenant(admin: Admin, tenant_id: str | None) -> str:
    """The admin's tenant; TENANT_MISMATCH when the request names another one."""
    if tenant_id is not None and tenant_id != admin.tenant_id:
        raise TenantMismatch(
            details={"token_tenant": admin.tenant_id, "requested": tenant_id[:100]}
        )
    return admin.tenant_id
