"""What a rule is: a subject, an action, a resource pattern and an effect, in one tenant."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from access_entitlements.errors import InvalidSubject, UnknownAction

__all__ = [
    "ACTIONS",
    "ANY_ACTION",
    "EVERYONE",
    "RULE_ACTIONS",
    "Effect",
    "Rule",
    "SubjectKind",
    "parse_action",
    "parse_rule_action",
    "parse_subject",
]

ACTIONS = frozenset({"read", "subscribe", "write", "admin"})
ANY_ACTION = "*"
RULE_ACTIONS = ACTIONS | {ANY_ACTION}
EVERYONE = "*"

# User ids and role names: what Keycloak issues, without whitespace or control characters.
_NAME = re.compile(r"^[^\s\x00-\x1f\x7f]{1,256}$")


class Effect(StrEnum):
    """What a matching rule does; deny wins over allow."""

    ALLOW = "allow"
    DENY = "deny"


class SubjectKind(StrEnum):
    """Whom a rule names: one user, every holder of a role, or everyone in the tenant."""

    USER = "user"
    ROLE = "role"
    EVERYONE = "everyone"


@dataclass(frozen=True, slots=True)
class Rule:
    """One stored rule of one tenant."""

    id: str
    tenant_id: str
    subject: str
    action: str
    resource: str
    effect: Effect
    note: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str

    @property
    def subject_kind(self) -> SubjectKind:
        """The kind of subject (the part before the colon, or everyone)."""
        return parse_subject(self.subject)[0]

    @property
    def subject_value(self) -> str:
        """The user id or role name ("" for everyone)."""
        return parse_subject(self.subject)[1]


def parse_subject(subject: str) -> tuple[SubjectKind, str]:
    """``user:<id>``, ``role:<name>`` or ``*``; anything else raises INVALID_SUBJECT."""
    if subject == EVERYONE:
        return SubjectKind.EVERYONE, ""
    kind, sep, value = subject.partition(":")
    if sep and kind in (SubjectKind.USER, SubjectKind.ROLE) and _NAME.match(value):
        return SubjectKind(kind), value
    raise InvalidSubject(
        details={"subject": subject[:100], "expected": "user:<id>, role:<name> or *"}
    )


def parse_action(action: str) -> str:
    """An action a check may ask about; ``*`` and unknown names raise UNKNOWN_ACTION."""
    if action in ACTIONS:
        return action
    raise UnknownAction(details={"action": action[:100], "known": sorted(ACTIONS)})


def parse_rule_action(action: str) -> str:
    """An action a rule may name: a known action or ``*``."""
    if action in RULE_ACTIONS:
        return action
    raise UnknownAction(details={"action": action[:100], "known": sorted(RULE_ACTIONS)})


def valid_name(value: str) -> bool:
    """True for a user id, tenant id or role name the service accepts."""
    return bool(_NAME.match(value))
