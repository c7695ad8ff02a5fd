"""API contracts: export each service's OpenAPI document and guard it against silent breaks.

    python scripts/contracts.py sync    # make spec-sync: regenerate every contract file
    python scripts/contracts.py check   # make contract-check: live vs committed, with oasdiff

A contract is ``service-<name>/openapi/<name>-core.openapi.json``: the OpenAPI 3.1
document the service's app factory generates, with ``info.version`` set to the contract
version pinned in specs.lock.json (the same string as the service manifest's
``api_contracts`` entry). ``check`` builds each app in-process (nothing listens, no
backend is contacted), compares the live document with the committed one and fails when
they differ: on a breaking change (oasdiff, levels ERR and WARN: the potentially
breaking ones too, like an optional response field removed) unless the contract's major
version was bumped (in 0.x, the minor: SemVer's rule for initial development), otherwise
because the committed file is stale (`make spec-sync`). ``sync`` writes the files and
refuses a breaking change that the version does not announce.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "specs.lock.json"
OASDIFF = REPO / ".local" / "bin" / "oasdiff"
SERVICES = ("gateway", "streaming", "auth", "entitlements", "metrics")

# The environment the documents are generated in: `test` has the production routes
# without auth's local-only dev issuer, no placeholder-secret refusal and no backend
# (embedded defaults); peers point at a closed port (nothing is called while exporting).
EXPORT_ENV = {
    "ACCESS_ENV": "test",
    "ACCESS_AUTH_SERVICE_URL": "http://127.0.0.1:9",
    "ACCESS_ENTITLEMENTS_SERVICE_URL": "http://127.0.0.1:9",
    "ACCESS_METRICS_SERVICE_URL": "http://127.0.0.1:9",
}


def contract_name(service: str) -> str:
    """The contract a service publishes (seed 001: `gateway-core@1.0.0`)."""
    return f"{service}-core"


def contract_path(service: str) -> Path:
    """Where the committed contract of a service lives."""
    return REPO / f"service-{service}" / "openapi" / f"{contract_name(service)}.openapi.json"


def pinned_versions() -> dict[str, str]:
    """Contract versions from specs.lock.json."""
    return dict(json.loads(LOCK.read_text())["contracts"])


def live_document(service: str, version: str, state_dir: Path) -> dict[str, Any]:
    """The OpenAPI document the service's code generates now, stamped with its version."""
    for key in [k for k in os.environ if k.startswith("ACCESS_")]:
        del os.environ[key]
    os.environ.update(EXPORT_ENV, ACCESS_STATE_DIR=str(state_dir / service))
    app = importlib.import_module(f"access_{service}.app").create_app()
    doc: dict[str, Any] = app.openapi()
    doc["info"]["version"] = version
    doc["info"]["x-contract"] = contract_name(service)
    return doc


def dump(doc: dict[str, Any]) -> str:
    """The committed form: 2-space JSON, trailing newline, so diffs stay readable."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _semver(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.split("-", maxsplit=1)[0].split(".")[:3])
    return major, minor, patch


def announces_break(old: str, new: str) -> bool:
    """True when the new version may break the old contract (major bump; 0.x: minor bump)."""
    o, n = _semver(old), _semver(new)
    if n[0] > o[0]:
        return True
    return o[0] == n[0] == 0 and n[1] > o[1]


def breaking_changes(base: Path, revision: Path) -> str:
    """The breaking changes (oasdiff levels ERR and WARN) from base to revision; '' if none."""
    # Idempotent: builds oasdiff into .local/bin the first time only.
    subprocess.run([str(REPO / "scripts" / "tools.sh"), "oasdiff"], check=True)
    result = subprocess.run(
        [str(OASDIFF), "breaking", str(base), str(revision), "--fail-on", "WARN",
         "--format", "text"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode not in (0, 1):
        raise RuntimeError(f"oasdiff failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout.strip() if result.returncode == 1 else ""


def changelog(base: Path, revision: Path) -> str:
    """The oasdiff changelog of a non-breaking difference, one change per line ('' if none)."""
    result = subprocess.run(
        [str(OASDIFF), "changelog", str(base), str(revision), "--format", "singleline"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line.strip() for line in result.stdout.splitlines()[1:] if line.strip()]
    return "; ".join(lines[:10]) + (f"; ... {len(lines) - 10} more" if len(lines) > 10 else "")


def compare(service: str, committed: Path, live: dict[str, Any], workdir: Path) -> tuple[str, str]:
    """(verdict, detail): 'same', 'stale' (additive or cosmetic) or 'breaking'."""
    old = json.loads(committed.read_text())
    if old == live:
        return "same", ""
    revision = workdir / f"{service}.live.json"
    revision.write_text(dump(live))
    report = breaking_changes(committed, revision)
    if not report:
        return "stale", changelog(committed, revision)
    if announces_break(str(old["info"]["version"]), str(live["info"]["version"])):
        return (
            "stale",
            f"breaking, announced by {old['info']['version']} -> {live['info']['version']}",
        )
    return "breaking", report


def run(mode: str, services: list[str]) -> int:
    """Sync or check the given services; the exit code says whether all is well."""
    versions = pinned_versions()
    failed = False
    with tempfile.TemporaryDirectory(prefix="contracts-") as tmp:
        workdir = Path(tmp)
        for service in services:
            version = versions[contract_name(service)]
            live = live_document(service, version, workdir)
            path = contract_path(service)
            name = f"{contract_name(service)}@{version}"
            if not path.exists():
                verdict, detail = "new", ""
            else:
                verdict, detail = compare(service, path, live, workdir)
            if verdict == "breaking":
                failed = True
                print(f"BREAKING {name}: {path.relative_to(REPO)} -> live")
                print("  " + detail.replace("\n", "\n  "))
                print(
                    f"  bump the major version of {contract_name(service)} in specs.lock.json "
                    "and the manifest's api_contracts (0.x: the minor), or keep the old shape"
                )
                continue
            if mode == "sync":
                if verdict != "same":
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(dump(live))
                print(f"{'unchanged' if verdict == 'same' else 'written'}  {name}  {detail}")
            elif verdict == "same":
                print(f"ok       {name}")
            else:
                failed = True
                problem = (
                    "is missing"
                    if verdict == "new"
                    else f"differs from the code ({detail or 'no breaking change'})"
                )
                print(f"stale    {name}: {path.relative_to(REPO)} {problem}; "
                      "run `make spec-sync` and commit")  # fmt: skip
    return 1 if failed else 0


def main() -> int:
    """Command line: sync | check [service ...]."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["sync", "check"])
    parser.add_argument("services", nargs="*", help=f"default: all ({', '.join(SERVICES)})")
    args = parser.parse_args()
    unknown = set(args.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")
    return run(args.mode, list(args.services) or list(SERVICES))


if __name__ == "__main__":
    sys.exit(main())
