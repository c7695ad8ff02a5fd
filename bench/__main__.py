"""Run the benchmarks and write docs/benchmarks.md: `python -m bench [--quick] [NAME ...]`."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import re
import sys
from pathlib import Path

from bench.machine import describe

BENCHMARKS = ["auth", "webhooks", "entitlements", "metrics", "throughput", "gateway"]
KEPT_BLOCK = re.compile(r"<!-- ([\w-]+):begin -->.*?<!-- \1:end -->", re.DOTALL)
OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"

HEADER = """# Benchmarks

Written by `make bench` (code in `bench/`). Numbers are from one run on the machine
below, a shared 2-core VM whose speed varies up to 5x between sessions: read each
absolute number beside the bare baseline measured in the same run (a bare FastAPI
route, or the direct upstream), and compare ratios across runs, not raw numbers.
Hand-written notes (how the numbers moved during the work, A/B runs, profiles) are in
[benchmarks-notes.md](benchmarks-notes.md), which no run replaces.
"""


def main() -> int:
    """Run the named benchmarks (all by default) and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help=f"some of {BENCHMARKS} (default: all)")
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    args.names = args.names or BENCHMARKS
    sections = [HEADER, describe()]
    for name in args.names:
        module = importlib.import_module(f"bench.{name}")
        print(f"running {name} ...", file=sys.stderr)
        sections.append(asyncio.run(module.run(quick=args.quick)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # Blocks other commands write between markers (`make bench-streaming`) are kept as they are.
    old = args.output.read_text() if args.output.exists() else ""
    sections += [m.group(0) for m in KEPT_BLOCK.finditer(old)]
    args.output.write_text("\n\n".join(sections) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
