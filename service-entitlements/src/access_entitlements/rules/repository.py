"""Every query of rules, policy versions and audit: the only module that writes SQL."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from access_common.backends import Row, Store, Transaction
from access_entitlements.rules.migrations import MIGRATIONS
from access_entitlements.rules.model import Effect, Rule

__all__ = ["AuditEntry", "RuleRepository"]

_RULE_COLUMNS = (
    "id, tenant_id, subject, action, resource, effect, note, "
    "created_at, updated_at, created_by, updated_by"
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change to a tenant's rules: who, when, what it was before and after."""

    seq: int
    tenant_id: str
    at: datetime
    actor: str
    operation: str
    rule_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    policy_version: int


def _rule(row: Row) -> Rule:
    return Rule(
        id=row["id"],
        tenant_id=row["tenant_id"],
        subject=row["subject"],
        action=row["action"],
        resource=row["resource"],
        effect=Effect(row["effect"]),
        note=row["note"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        created_by=row["created_by"],
        updated_by=row["updated_by"],
    )


def _json(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(orjson.loads(text))


class RuleRepository:
    """Rules, per-tenant policy versions and the audit trail, over the project's Store.

    The schema is migrated on first use, and again on a later use when the store was
    down at start, so a service started before its database recovers without a restart.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._migrated = False
        self._migrating = asyncio.Lock()

    async def ready(self) -> Store:
        """The store, once the schema is in place (BackendError while it cannot be)."""
        if not self._migrated:
            async with self._migrating:
                if not self._migrated:
                    await self._store.migrate(MIGRATIONS)
                    self._migrated = True
        return self._store

    async def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A transaction of the (migrated) store."""
        return (await self.ready()).transaction()

    async def load_policy(self, tenant_id: str) -> tuple[int, list[Rule]]:
        """A tenant's version and rules, read in one statement (one consistent snapshot)."""
        rows = await (await self.ready()).fetch(
            "SELECT v.version AS policy_version, r.id, r.tenant_id, r.subject, r.action, "
            "r.resource, r.effect, r.note, r.created_at, r.updated_at, r.created_by, "
            "r.updated_by FROM entitlement_policy_versions v "
            "LEFT JOIN entitlement_rules r ON r.tenant_id = v.tenant_id "
            "WHERE v.tenant_id = $1 ORDER BY r.id",
            tenant_id,
        )
        if not rows:
            return 0, []
        version = int(rows[0]["policy_version"])
        return version, [_rule(row) for row in rows if row["id"] is not None]

    async def versions(self) -> dict[str, int]:
        """Every tenant's policy version."""
        rows = await (await self.ready()).fetch(
            "SELECT tenant_id, version FROM entitlement_policy_versions"
        )
        return {row["tenant_id"]: int(row["version"]) for row in rows}

    async def version(self, tenant_id: str) -> int:
        """One tenant's policy version (0 when it never had a rule)."""
        row = await (await self.ready()).fetchrow(
            "SELECT version FROM entitlement_policy_versions WHERE tenant_id = $1", tenant_id
        )
        return 0 if row is None else int(row["version"])

    @staticmethod
    async def version_in(tx: Transaction, tenant_id: str) -> int:
        """A tenant's policy version, read inside a transaction."""
        row = await tx.fetchrow(
            "SELECT version FROM entitlement_policy_versions WHERE tenant_id = $1", tenant_id
        )
        return 0 if row is None else int(row["version"])

    async def list_rules(self, tenant_id: str, offset: int, limit: int) -> tuple[list[Rule], int]:
        """One page of a tenant's rules in id order, and how many it has in all."""
        rows = await (await self.ready()).fetch(
            f"SELECT {_RULE_COLUMNS} FROM entitlement_rules WHERE tenant_id = $1 "  # noqa: S608
            "ORDER BY id LIMIT $2 OFFSET $3",
            tenant_id,
            limit,
            offset,
        )
        total = await (await self.ready()).fetchrow(
            "SELECT COUNT(*) AS n FROM entitlement_rules WHERE tenant_id = $1", tenant_id
        )
        return [_rule(row) for row in rows], int(total["n"]) if total else 0

    async def get_rule(
        self, tenant_id: str, rule_id: str, tx: Transaction | None = None
    ) -> Rule | None:
        """A tenant's rule by id; another tenant's rule is None, as a missing one is."""
        row = await (tx or await self.ready()).fetchrow(
            f"SELECT {_RULE_COLUMNS} FROM entitlement_rules "  # noqa: S608
            "WHERE tenant_id = $1 AND id = $2",
            tenant_id,
            rule_id,
        )
        return None if row is None else _rule(row)

    @staticmethod
    async def insert_rule(tx: Transaction, rule: Rule) -> None:
        """Store a new rule (Conflict when an identical one exists)."""
        await tx.execute(
            f"INSERT INTO entitlement_rules ({_RULE_COLUMNS}) "  # noqa: S608
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            rule.id, rule.tenant_id, rule.subject, rule.action, rule.resource,
            rule.effect.value, rule.note, rule.created_at, rule.updated_at,
            rule.created_by, rule.updated_by,
        )  # fmt: skip

    @staticmethod
    async def update_rule(tx: Transaction, rule: Rule) -> int:
        """Replace a rule's fields; the number of rows changed."""
        return await tx.execute(
            "UPDATE entitlement_rules SET subject = $3, action = $4, resource = $5, "
            "effect = $6, note = $7, updated_at = $8, updated_by = $9 "
            "WHERE tenant_id = $1 AND id = $2",
            rule.tenant_id, rule.id, rule.subject, rule.action, rule.resource,
            rule.effect.value, rule.note, rule.updated_at, rule.updated_by,
        )  # fmt: skip

    @staticmethod
    async def delete_rule(tx: Transaction, tenant_id: str, rule_id: str) -> int:
        """Remove a rule; the number of rows removed."""
        return await tx.execute(
            "DELETE FROM entitlement_rules WHERE tenant_id = $1 AND id = $2", tenant_id, rule_id
        )

    @staticmethod
    async def bump_version(tx: Transaction, tenant_id: str, at: datetime) -> int:
        """Increment a tenant's policy version (1 for its first rule); row locks order writers."""
        row = await tx.fetchrow(
            "INSERT INTO entitlement_policy_versions (tenant_id, version, updated_at) "
            "VALUES ($1, 1, $2) ON CONFLICT (tenant_id) DO UPDATE SET "
            "version = entitlement_policy_versions.version + 1, updated_at = $2 "
            "RETURNING version",
            tenant_id,
            at,
        )
        assert row is not None  # noqa: S101 - RETURNING always yields the row
        return int(row["version"])

    @staticmethod
    async def append_audit(
        tx: Transaction,
        *,
        tenant_id: str,
        at: datetime,
        actor: str,
        operation: str,
        rule_id: str | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        version: int,
    ) -> None:
        """Record one change in the audit trail, in the same transaction as the change."""
        await tx.execute(
            "INSERT INTO entitlement_audit (tenant_id, at, actor, operation, rule_id, "
            "before_json, after_json, policy_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            tenant_id, at, actor, operation, rule_id,
            None if before is None else orjson.dumps(before, default=str).decode(),
            None if after is None else orjson.dumps(after, default=str).decode(),
            version,
        )  # fmt: skip

    async def list_audit(
        self, tenant_id: str, offset: int, limit: int
    ) -> tuple[list[AuditEntry], int]:
        """One page of a tenant's audit trail, newest first, and its length."""
        rows = await (await self.ready()).fetch(
            "SELECT seq, tenant_id, at, actor, operation, rule_id, before_json, after_json, "
            "policy_version FROM entitlement_audit WHERE tenant_id = $1 "
            "ORDER BY seq DESC LIMIT $2 OFFSET $3",
            tenant_id,
            limit,
            offset,
        )
        total = await (await self.ready()).fetchrow(
            "SELECT COUNT(*) AS n FROM entitlement_audit WHERE tenant_id = $1", tenant_id
        )
        entries = [
            AuditEntry(
                seq=int(row["seq"]),
                tenant_id=row["tenant_id"],
                at=row["at"],
                actor=row["actor"],
                operation=row["operation"],
                rule_id=row["rule_id"],
                before=_json(row["before_json"]),
                after=_json(row["after_json"]),
                policy_version=int(row["policy_version"]),
            )
            for row in rows
        ]
        return entries, int(total["n"]) if total else 0
