"""Resource names and patterns: ``<kind>:<id>`` and ``<kind>:<prefix>*``, compiled once.

A resource is ``<kind>:<id>`` (``instrument:BRENT_M1``, ``curve:NG_HH``,
``topic:pricing.curve.updates.v1``). A pattern is a resource, a resource prefix ending
in one ``*`` (``curve:*``, ``topic:pricing.*``, ``instrument:BRENT_*``), or ``*`` alone
(every resource). A ``*`` anywhere else is refused: trailing wildcards are what lets
the evaluator find every matching rule with one dictionary lookup per prefix length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from access_entitlements.errors import InvalidResource, InvalidResourcePattern

__all__ = ["MAX_RESOURCE_LENGTH", "Pattern", "compile_pattern", "parse_resource"]

MAX_RESOURCE_LENGTH = 256
_KIND = r"[a-z][a-z0-9_-]{0,31}"
_RESOURCE = re.compile(rf"^({_KIND}):([^\s*\x00-\x1f\x7f]+)$")
_PATTERN = re.compile(rf"^({_KIND}):([^\s*\x00-\x1f\x7f]*)(\*?)$")


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled pattern: an exact resource, or a prefix every match starts with."""

    text: str
    kind: str | None
    prefix: str
    exact: bool

    def matches(self, resource: str) -> bool:
        """True when the resource falls under this pattern."""
        if self.exact:
            return resource == self.prefix
        return resource.startswith(self.prefix)

    @property
    def specificity(self) -> tuple[int, int]:
        """Exact beats any prefix; a longer prefix beats a shorter one."""
        return (1 if self.exact else 0, len(self.prefix))


def compile_pattern(text: str) -> Pattern:
    """Compile a rule's resource pattern; malformed ones raise INVALID_RESOURCE_PATTERN."""
    if text == "*":
        return Pattern(text, None, "", exact=False)
    match = _PATTERN.match(text) if len(text) <= MAX_RESOURCE_LENGTH else None
    if match is None or (not match.group(2) and not match.group(3)):
        raise InvalidResourcePattern(
            details={
                "pattern": text[:100],
                "expected": "<kind>:<id>, <kind>:<prefix>* or *; '*' only at the end",
            }
        )
    kind, body, star = match.groups()
    if star:
        return Pattern(text, kind, f"{kind}:{body}", exact=False)
    return Pattern(text, kind, text, exact=True)


def parse_resource(resource: str) -> str:
    """A resource a check may name (``<kind>:<id>``, no wildcard); else INVALID_RESOURCE."""
    if len(resource) <= MAX_RESOURCE_LENGTH and _RESOURCE.match(resource):
        return resource
    raise InvalidResource(
        details={
            "resource": resource[:100],
            "expected": f"<kind>:<id>, lowercase kind, no '*' or spaces, "
            f"at most {MAX_RESOURCE_LENGTH} characters",
        }
    )
