"""Explain a check: every rule that matched, which one decided, and why (fresh from the store)."""

from __future__ import annotations

from dataclasses import dataclass

from access_entitlements.decisions.service import Subject
from access_entitlements.rules.evaluator import (
    NO_MATCHING_RULE,
    RULE_ALLOWS,
    RULE_DENIES,
    UNKNOWN_TENANT,
    CompiledRule,
    Evaluation,
    TenantPolicy,
)
from access_entitlements.rules.model import parse_action
from access_entitlements.rules.patterns import parse_resource
from access_entitlements.rules.repository import RuleRepository

__all__ = ["Explanation", "explain"]

_WHY = {
    RULE_ALLOWS: "allowed: rule {rule} is the most specific allow rule and no deny rule matched",
    RULE_DENIES: "denied: rule {rule} is the most specific deny rule (deny wins over allow)",
    NO_MATCHING_RULE: "denied: no rule of the tenant matches (deny by default)",
    UNKNOWN_TENANT: "denied: the tenant has no rules at all (deny by default)",
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """The decision, the rules that matched (most specific first) and a sentence."""

    evaluation: Evaluation
    version: int
    matched: list[CompiledRule]
    sentence: str


async def explain(
    repo: RuleRepository, subject: Subject, action: str, resource: str
) -> Explanation:
    """Evaluate against the stored rules (no cache) and show the work."""
    action, resource = parse_action(action), parse_resource(resource)
    version, rules = await repo.load_policy(subject.tenant_id)
    policy = TenantPolicy(subject.tenant_id, version, rules)
    evaluation = policy.evaluate(subject.user_id, subject.roles, action, resource)
    matched = policy.matching(subject.user_id, subject.roles, action, resource)
    sentence = _WHY[evaluation.reason].format(rule=evaluation.rule_id)
    return Explanation(evaluation, version, matched, sentence)
