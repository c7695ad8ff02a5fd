"""The YAML policy file (``ACCESS_ENTITLEMENTS_POLICY_FILE``): rules for tenants with no history.

Format: a mapping with ``tenants: {<tenant id>: [<rule>, ...]}``, each rule a mapping of
``subject``, ``action``, ``resource``, ``effect`` and an optional ``note`` (other
top-level keys are free for YAML anchors). The file is validated whole at start: a bad
rule stops the service with the tenant and the rule's position named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from access_common.errors import AccessError
from access_entitlements.rules.model import valid_name
from access_entitlements.rules.service import RuleFields

__all__ = ["PolicyFileError", "load_policy_file"]

_FIELDS = {"subject", "action", "resource", "effect", "note"}


class PolicyFileError(ValueError):
    """The policy file cannot be read or holds an invalid rule."""


def load_policy_file(path: Path) -> dict[str, list[RuleFields]]:
    """Parse and validate every tenant's rules."""
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyFileError(f"{path}: cannot read: {type(exc).__name__}") from None
    tenants = document.get("tenants") if isinstance(document, dict) else None
    if not isinstance(tenants, dict):
        raise PolicyFileError(f"{path}: a mapping 'tenants: {{<tenant>: [rules]}}' is required")
    policy: dict[str, list[RuleFields]] = {}
    for tenant_id, rules in tenants.items():
        if not isinstance(tenant_id, str) or not valid_name(tenant_id):
            raise PolicyFileError(f"{path}: invalid tenant id {tenant_id!r}")
        if not isinstance(rules, list):
            raise PolicyFileError(f"{path}: tenants.{tenant_id} must be a list of rules")
        policy[tenant_id] = [_rule(path, tenant_id, i, raw) for i, raw in enumerate(rules)]
    return policy


def _rule(path: Path, tenant_id: str, index: int, raw: Any) -> RuleFields:
    where = f"{path}: tenants.{tenant_id}[{index}]"
    if not isinstance(raw, dict) or not set(raw) <= _FIELDS:
        raise PolicyFileError(f"{where}: a rule is a mapping of {sorted(_FIELDS)}")
    try:
        return RuleFields(
            str(raw["subject"]), str(raw["action"]), str(raw["resource"]),
            str(raw["effect"]), None if raw.get("note") is None else str(raw["note"]),
        )  # fmt: skip
    except KeyError as exc:
        raise PolicyFileError(f"{where}: missing {exc.args[0]}") from None
    except AccessError as exc:
        raise PolicyFileError(f"{where}: {exc.code}: {exc.message}") from None
