"""Put a marked block into docs/benchmarks.md, leaving everything else as it is."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["replace_block", "write_block"]


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def replace_block(text: str, name: str, body: str, *, after: str | None = None) -> str:
    """``text`` with block ``name`` set to ``body`` (in place, after block ``after``, or last)."""
    begin, end = _markers(name)
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    if after is not None:
        anchor = _markers(after)[1]
        index = text.find(anchor)
        if index >= 0:
            index += len(anchor)
            return f"{text[:index]}\n\n{block}{text[index:]}"
    return f"{text.rstrip()}\n\n{block}\n"


def write_block(path: Path, name: str, body: str, *, after: str | None = None) -> None:
    """Replace block ``name`` of the file at ``path`` (created when missing)."""
    text = path.read_text() if path.exists() else ""
    path.write_text(replace_block(text, name, body, after=after))
