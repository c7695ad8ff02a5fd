"""The entitlements schema, as versioned migrations applied by the store at start."""

from __future__ import annotations

from access_common.backends import Migration

__all__ = ["MIGRATIONS"]

_RULES = """
CREATE TABLE entitlement_policy_versions (
    tenant_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE entitlement_rules (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    effect TEXT NOT NULL,
    note TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE UNIQUE INDEX entitlement_rules_identity
    ON entitlement_rules (tenant_id, subject, action, resource, effect);
CREATE INDEX entitlement_rules_tenant ON entitlement_rules (tenant_id, id);
"""

_AUDIT = """
CREATE TABLE entitlement_audit (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    operation TEXT NOT NULL,
    rule_id TEXT,
    before_json TEXT,
    after_json TEXT,
    policy_version BIGINT NOT NULL
);
CREATE INDEX entitlement_audit_tenant ON entitlement_audit (tenant_id, seq);
"""

MIGRATIONS = (
    Migration("entitlements-0001-rules", _RULES),
    Migration(
        "entitlements-0002-audit",
        _AUDIT,
        sqlite_sql=_AUDIT.replace(
            "seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
            "seq INTEGER PRIMARY KEY AUTOINCREMENT",
        ),
    ),
)
