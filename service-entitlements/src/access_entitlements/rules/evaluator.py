"""The in-process evaluator: one tenant's rules compiled and indexed by action and prefix.

Compiling merges ``*``-action rules into every action, and files each pattern under its
action, its resource kind and either its exact resource or its prefix. A check then
costs one lookup for the exact resource plus one per distinct prefix length of that
kind, each a dict lookup; only the rules found are tested against the subject. Deny
wins over allow; among the rules of the winning effect the most specific one is named:
an exact resource over a prefix, a longer prefix over a shorter one, a user over a role
over everyone, a named action over ``*``; between equals, the first in rule-id order
(rules are loaded sorted by id), so the answer is stable across replicas.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Final

from access_entitlements.rules.model import ACTIONS, ANY_ACTION, Effect, Rule, SubjectKind
from access_entitlements.rules.patterns import Pattern, compile_pattern

__all__ = [
    "NO_MATCHING_RULE",
    "RULE_ALLOWS",
    "RULE_DENIES",
    "UNKNOWN_TENANT",
    "CompiledRule",
    "Evaluation",
    "TenantPolicy",
]

RULE_ALLOWS: Final = "rule_allows"
RULE_DENIES: Final = "rule_denies"
NO_MATCHING_RULE: Final = "no_matching_rule"
UNKNOWN_TENANT: Final = "unknown_tenant"

_SUBJECT_RANK = {SubjectKind.USER: 2, SubjectKind.ROLE: 1, SubjectKind.EVERYONE: 0}


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to match: its subject split, its pattern compiled, its rank computed."""

    rule: Rule
    kind: SubjectKind
    value: str
    pattern: Pattern
    deny: bool
    rank: tuple[int, int, int, int]

    @classmethod
    def of(cls, rule: Rule) -> CompiledRule:
        """Compile one stored rule."""
        pattern = compile_pattern(rule.resource)
        kind = rule.subject_kind
        rank = (
            *pattern.specificity,
            _SUBJECT_RANK[kind],
            0 if rule.action == ANY_ACTION else 1,
        )
        return cls(rule, kind, rule.subject_value, pattern, rule.effect is Effect.DENY, rank)

    def applies_to(self, user_id: str, roles: Collection[str]) -> bool:
        """True when the subject of the check is the rule's subject."""
        kind = self.kind
        if kind is SubjectKind.EVERYONE:
            return True
        if kind is SubjectKind.ROLE:
            return self.value in roles
        return self.value == user_id


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one check against one policy."""

    allow: bool
    rule_id: str | None
    reason: str


@dataclass(slots=True)
class _KindIndex:
    exact: dict[str, list[CompiledRule]] = field(default_factory=lambda: defaultdict(list))
    prefixes: dict[str, list[CompiledRule]] = field(default_factory=lambda: defaultdict(list))
    lengths: tuple[int, ...] = ()


@dataclass(slots=True)
class _ActionIndex:
    kinds: dict[str, _KindIndex] = field(default_factory=dict)
    everything: list[CompiledRule] = field(default_factory=list)


_NO_RULE = Evaluation(False, None, NO_MATCHING_RULE)
_UNKNOWN = Evaluation(False, None, UNKNOWN_TENANT)


class TenantPolicy:
    """Every rule of one tenant at one policy version, compiled for fast checks."""

    __slots__ = ("_by_action", "rule_count", "rules", "tenant_id", "version")

    def __init__(self, tenant_id: str, version: int, rules: Iterable[Rule]) -> None:
        self.tenant_id = tenant_id
        self.version = version
        self.rules = tuple(CompiledRule.of(r) for r in rules)
        self.rule_count = len(self.rules)
        self._by_action: dict[str, _ActionIndex] = {a: _ActionIndex() for a in ACTIONS}
        for compiled in self.rules:
            actions = ACTIONS if compiled.rule.action == ANY_ACTION else (compiled.rule.action,)
            for action in actions:
                self._file(self._by_action[action], compiled)
        for index in self._by_action.values():
            for kind in index.kinds.values():
                kind.exact = dict(kind.exact)
                kind.prefixes = dict(kind.prefixes)
                kind.lengths = tuple(sorted({len(p) for p in kind.prefixes}, reverse=True))

    @staticmethod
    def _file(index: _ActionIndex, compiled: CompiledRule) -> None:
        pattern = compiled.pattern
        if pattern.kind is None:
            index.everything.append(compiled)
            return
        kind = index.kinds.setdefault(pattern.kind, _KindIndex())
        bucket = kind.exact if pattern.exact else kind.prefixes
        bucket[pattern.prefix].append(compiled)

    def candidates(self, action: str, resource: str) -> list[CompiledRule]:
        """Every rule whose action and pattern match, whatever its subject."""
        index = self._by_action.get(action)
        if index is None:
            return []
        found = list(index.everything)
        colon = resource.find(":")
        kind = index.kinds.get(resource[:colon]) if colon > 0 else None
        if kind is not None:
            found.extend(kind.exact.get(resource, ()))
            size = len(resource)
            prefixes = kind.prefixes
            for length in kind.lengths:
                if length <= size:
                    found.extend(prefixes.get(resource[:length], ()))
        return found

    def evaluate(
        self, user_id: str, roles: Collection[str], action: str, resource: str
    ) -> Evaluation:
        """Decide: deny wins, the most specific rule of the winning effect is named."""
        if not self.rules:
            return _UNKNOWN if self.version == 0 else _NO_RULE
        best_allow: CompiledRule | None = None
        best_deny: CompiledRule | None = None
        for compiled in self.candidates(action, resource):
            if not compiled.applies_to(user_id, roles):
                continue
            if compiled.deny:
                if best_deny is None or compiled.rank > best_deny.rank:
                    best_deny = compiled
            elif best_allow is None or compiled.rank > best_allow.rank:
                best_allow = compiled
        if best_deny is not None:
            return Evaluation(False, best_deny.rule.id, RULE_DENIES)
        if best_allow is not None:
            return Evaluation(True, best_allow.rule.id, RULE_ALLOWS)
        return _NO_RULE

    def matching(
        self, user_id: str, roles: Collection[str], action: str, resource: str
    ) -> list[CompiledRule]:
        """Every rule that applies to this check, most specific first (for explain)."""
        found = [c for c in self.candidates(action, resource) if c.applies_to(user_id, roles)]
        return sorted(found, key=lambda c: c.rank, reverse=True)
