"""Managing a tenant's rules: validate, write, bump the version, audit, announce.

The rule, the version bump and the audit entry commit in one transaction; then every
replica (and every client) is told the new version.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from access_common.errors import Conflict
from access_entitlements.errors import InvalidEffect, RuleExists, RuleNotFound
from access_entitlements.policy.versions import PolicyVersions
from access_entitlements.rules.model import Effect, Rule, parse_rule_action, parse_subject
from access_entitlements.rules.patterns import compile_pattern
from access_entitlements.rules.repository import AuditEntry, RuleRepository

__all__ = ["RuleFields", "RuleService"]


def _effect(value: str) -> Effect:
    try:
        return Effect(value)
    except ValueError:
        raise InvalidEffect(details={"effect": value[:20], "known": ["allow", "deny"]}) from None


def _snapshot(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id, "subject": rule.subject, "action": rule.action,
        "resource": rule.resource, "effect": rule.effect.value, "note": rule.note,
    }  # fmt: skip


class RuleFields:
    """Validated fields of a rule: subject, action, pattern and effect all checked."""

    __slots__ = ("action", "effect", "note", "resource", "subject")

    def __init__(self, subject: str, action: str, resource: str, effect: str, note: str | None):
        parse_subject(subject)
        self.subject = subject
        self.action = parse_rule_action(action)
        self.resource = compile_pattern(resource).text
        self.effect = _effect(effect)
        self.note = note


class RuleService:
    """CRUD of rules with audit and version bumps; explain and audit reads."""

    def __init__(
        self,
        repo: RuleRepository,
        versions: PolicyVersions,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repo
        self._versions = versions
        self._clock = clock

    async def create(self, tenant_id: str, actor: str, fields: RuleFields) -> tuple[Rule, int]:
        """Add a rule; RULE_EXISTS when an identical one is there."""
        now = self._clock()
        rule = Rule(
            id=uuid.uuid4().hex, tenant_id=tenant_id, subject=fields.subject,
            action=fields.action, resource=fields.resource, effect=fields.effect,
            note=fields.note, created_at=now, updated_at=now, created_by=actor, updated_by=actor,
        )  # fmt: skip
        try:
            async with await self._repo.transaction() as tx:
                await self._repo.insert_rule(tx, rule)
                version = await self._repo.bump_version(tx, tenant_id, now)
                await self._repo.append_audit(
                    tx, tenant_id=tenant_id, at=now, actor=actor, operation="create",
                    rule_id=rule.id, before=None, after=_snapshot(rule), version=version,
                )  # fmt: skip
        except Conflict:
            raise RuleExists from None
        await self._announce(tenant_id, version)
        return rule, version

    async def update(
        self, tenant_id: str, actor: str, rule_id: str, changes: dict[str, Any]
    ) -> tuple[Rule, int]:
        """Change some fields of a rule; RULE_NOT_FOUND outside the tenant."""
        now = self._clock()
        try:
            async with await self._repo.transaction() as tx:
                before = await self._repo.get_rule(tenant_id, rule_id, tx)
                if before is None:
                    raise RuleNotFound(details={"rule_id": rule_id})
                merged = {**_snapshot(before), **changes}
                fields = RuleFields(
                    merged["subject"], merged["action"], merged["resource"],
                    merged["effect"], merged["note"],
                )  # fmt: skip
                after = replace(
                    before, subject=fields.subject, action=fields.action,
                    resource=fields.resource, effect=fields.effect, note=fields.note,
                    updated_at=now, updated_by=actor,
                )  # fmt: skip
                await self._repo.update_rule(tx, after)
                version = await self._repo.bump_version(tx, tenant_id, now)
                await self._repo.append_audit(
                    tx, tenant_id=tenant_id, at=now, actor=actor, operation="update",
                    rule_id=rule_id, before=_snapshot(before), after=_snapshot(after),
                    version=version,
                )  # fmt: skip
        except Conflict:
            raise RuleExists from None
        await self._announce(tenant_id, version)
        return after, version

    async def delete(self, tenant_id: str, actor: str, rule_id: str) -> int:
        """Remove a rule; the tenant's new policy version."""
        now = self._clock()
        async with await self._repo.transaction() as tx:
            before = await self._repo.get_rule(tenant_id, rule_id, tx)
            if before is None:
                raise RuleNotFound(details={"rule_id": rule_id})
            await self._repo.delete_rule(tx, tenant_id, rule_id)
            version = await self._repo.bump_version(tx, tenant_id, now)
            await self._repo.append_audit(
                tx, tenant_id=tenant_id, at=now, actor=actor, operation="delete",
                rule_id=rule_id, before=_snapshot(before), after=None, version=version,
            )  # fmt: skip
        await self._announce(tenant_id, version)
        return version

    async def get(self, tenant_id: str, rule_id: str) -> Rule:
        """One rule of the tenant."""
        rule = await self._repo.get_rule(tenant_id, rule_id)
        if rule is None:
            raise RuleNotFound(details={"rule_id": rule_id})
        return rule

    async def page(self, tenant_id: str, page: int, limit: int) -> tuple[list[Rule], int, int]:
        """One page of rules, the total, and the tenant's version."""
        rules, total = await self._repo.list_rules(tenant_id, (page - 1) * limit, limit)
        return rules, total, await self._repo.version(tenant_id)

    async def audit(self, tenant_id: str, page: int, limit: int) -> tuple[list[AuditEntry], int]:
        """One page of the tenant's audit trail, newest first."""
        return await self._repo.list_audit(tenant_id, (page - 1) * limit, limit)

    async def bootstrap(self, tenant_id: str, rules: list[RuleFields]) -> bool:
        """Seed a tenant that never had a rule; False (untouched) when it has a history."""
        now = self._clock()
        try:
            async with await self._repo.transaction() as tx:
                if await self._repo.version_in(tx, tenant_id) > 0:
                    return False
                version = 0
                for fields in rules:
                    rule = Rule(
                        id=uuid.uuid4().hex, tenant_id=tenant_id, subject=fields.subject,
                        action=fields.action, resource=fields.resource, effect=fields.effect,
                        note=fields.note, created_at=now, updated_at=now,
                        created_by="bootstrap", updated_by="bootstrap",
                    )  # fmt: skip
                    await self._repo.insert_rule(tx, rule)
                version = await self._repo.bump_version(tx, tenant_id, now)
                await self._repo.append_audit(
                    tx, tenant_id=tenant_id, at=now, actor="bootstrap", operation="bootstrap",
                    rule_id=None, before=None, after={"rules": len(rules)}, version=version,
                )  # fmt: skip
        except Conflict:
            return False  # another replica seeded it at the same moment
        await self._announce(tenant_id, version)
        return True

    async def _announce(self, tenant_id: str, version: int) -> None:
        await self._versions.announce(tenant_id, version)
