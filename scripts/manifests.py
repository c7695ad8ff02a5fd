"""Validate every service-*/service-manifest.yaml and write the aggregated services index.

    python scripts/manifests.py            # make manifest-validate
    python scripts/manifests.py --index dist/services-index.json

Each manifest must match schemas/service-manifest.schema.json and agree with the
repository: its folder (service-<service_name>), the contract versions pinned in
specs.lock.json, the committed contract files (service-*/openapi/, info.version) and
the other services it names. The index is what CI publishes to 254carbon-meta (seed 001
section 4): every manifest, with the commit and where its contract documents live.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "service-manifest.schema.json"
LOCK = REPO / "specs.lock.json"
DEFAULT_INDEX = REPO / "dist" / "services-index.json"


def manifests() -> dict[str, dict[str, Any]]:
    """Each service folder's manifest, by folder suffix."""
    found = {}
    for path in sorted(REPO.glob("service-*/service-manifest.yaml")):
        found[path.parent.name.removeprefix("service-")] = yaml.safe_load(path.read_text())
    return found


def contract_files(service: str) -> dict[str, Path]:
    """The committed contract documents of a service, by contract name."""
    found: dict[str, Path] = {}
    folder = REPO / f"service-{service}"
    for path in sorted(folder.glob("openapi/*.openapi.json")):
        found[path.name.removesuffix(".openapi.json")] = path
    for path in sorted(folder.glob("asyncapi/*.asyncapi.yaml")):
        found[path.name.removesuffix(".asyncapi.yaml")] = path
    return found


def _document_version(path: Path) -> str:
    doc = (
        json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    )
    return str(doc["info"]["version"])


def problems(service: str, manifest: Any, pinned: dict[str, str], names: set[str]) -> list[str]:
    """Everything wrong with one manifest (empty when it is valid)."""
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    found = [
        f"{'/'.join(str(p) for p in err.absolute_path) or '(top)'}: {err.message}"
        for err in sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    ]
    if found:
        return found
    if manifest["service_name"] != service:
        found.append(f"service_name {manifest['service_name']!r} but folder service-{service}")
    internal = set(manifest["dependencies"]["internal"])
    if service in internal:
        found.append("dependencies.internal names the service itself")
    found += [f"dependencies.internal: no service-{n}" for n in sorted(internal - names)]
    files = contract_files(service)
    listed = set()
    for entry in manifest["api_contracts"]:
        name, version = entry.split("@")
        listed.add(name)
        if pinned.get(name) != version:
            found.append(f"api_contracts {entry}: specs.lock.json pins {pinned.get(name)}")
        if name not in files:
            found.append(f"api_contracts {entry}: no committed document (make spec-sync)")
        elif _document_version(files[name]) != version:
            found.append(f"api_contracts {entry}: {files[name].relative_to(REPO)} is version "
                         f"{_document_version(files[name])}")  # fmt: skip
    found += [
        f"{files[n].relative_to(REPO)} is not in api_contracts" for n in sorted(set(files) - listed)
    ]
    return found


def _commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "unknown"


def index(found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The services index: every manifest plus where its contracts live."""
    return {
        "repo": "254carbon-access",
        "commit": _commit(),
        "schema": str(SCHEMA.relative_to(REPO)),
        "services": [
            {
                **manifest,
                "contract_documents": {
                    name: str(path.relative_to(REPO))
                    for name, path in contract_files(service).items()
                },
            }
            for service, manifest in sorted(found.items())
        ],
    }


def main() -> int:
    """Validate all manifests; write the index when they are all valid."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--index", type=Path, default=DEFAULT_INDEX, help="where to write the index"
    )
    args = parser.parse_args()
    found = manifests()
    pinned = dict(json.loads(LOCK.read_text())["contracts"])
    failed = False
    for service, manifest in found.items():
        issues = problems(service, manifest, pinned, set(found))
        failed |= bool(issues)
        print(f"{'ok     ' if not issues else 'INVALID'} service-{service}/service-manifest.yaml")
        for issue in issues:
            print(f"  {issue}")
    if failed or not found:
        return 1
    args.index.parent.mkdir(parents=True, exist_ok=True)
    args.index.write_text(json.dumps(index(found), indent=2) + "\n")
    print(
        f"index: {args.index.relative_to(REPO) if args.index.is_relative_to(REPO) else args.index}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
