"""The committed OpenAPI contracts match the code, and oasdiff stops unannounced breaks."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .k8s import REPO
from .scripts import load_script

contracts = load_script("contracts")


def test_committed_contracts_match_the_code() -> None:
    """`make contract-check`: the live documents equal the committed ones."""
    result = subprocess.run(
        [sys.executable, "scripts/contracts.py", "check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_contracts_are_openapi_31_stamped_with_the_pinned_version() -> None:
    pinned = contracts.pinned_versions()
    for service in contracts.SERVICES:
        doc = json.loads(contracts.contract_path(service).read_text())
        assert doc["openapi"].startswith("3.1")
        assert doc["info"]["x-contract"] == f"{service}-core"
        assert doc["info"]["version"] == pinned[f"{service}-core"]


def _auth() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(contracts.contract_path("auth").read_text())
    return doc


def test_removing_an_operation_is_breaking(tmp_path: Path) -> None:
    committed = tmp_path / "auth.json"
    committed.write_text(contracts.dump(_auth()))
    live = copy.deepcopy(_auth())
    del live["paths"]["/auth/verify-ws"]
    verdict, detail = contracts.compare("auth", committed, live, tmp_path)
    assert verdict == "breaking"
    assert "api-path-removed" in detail


@pytest.mark.parametrize(("field", "verdict"), [("tenant_id", "breaking"), ("azp", "stale")])
def test_a_removed_required_response_field_is_breaking(
    tmp_path: Path, field: str, verdict: str
) -> None:
    """oasdiff's judgement: a required field removed is an error, an optional one is info."""
    committed = tmp_path / "auth.json"
    committed.write_text(contracts.dump(_auth()))
    live = copy.deepcopy(_auth())
    schema = live["components"]["schemas"]["VerifyResponse"]
    del schema["properties"][field]
    if field in schema.get("required", []):
        schema["required"].remove(field)
    found, detail = contracts.compare("auth", committed, live, tmp_path)
    assert found == verdict
    assert ("response-required-property-removed" in detail) is (verdict == "breaking")


def test_a_break_announced_by_the_version_passes_as_stale(tmp_path: Path) -> None:
    committed = tmp_path / "auth.json"
    committed.write_text(contracts.dump(_auth()))
    live = copy.deepcopy(_auth())
    del live["paths"]["/auth/verify-ws"]
    live["info"]["version"] = "0.2.0"
    verdict, detail = contracts.compare("auth", committed, live, tmp_path)
    assert verdict == "stale"
    assert "announced" in detail


def test_an_added_operation_is_stale_not_breaking(tmp_path: Path) -> None:
    base = copy.deepcopy(_auth())
    del base["paths"]["/auth/verify-ws"]
    committed = tmp_path / "auth.json"
    committed.write_text(contracts.dump(base))
    verdict, detail = contracts.compare("auth", committed, _auth(), tmp_path)
    assert verdict == "stale"
    assert "endpoint-added" in detail
    assert contracts.compare("auth", committed, base, tmp_path) == ("same", "")


@pytest.mark.parametrize(
    ("old", "new", "announced"),
    [
        ("1.2.3", "2.0.0", True),
        ("1.2.3", "1.3.0", False),
        ("1.2.3", "1.2.4", False),
        ("0.1.0", "0.2.0", True),
        ("0.1.0", "0.1.1", False),
        ("0.9.0", "1.0.0", True),
        ("2.0.0", "1.9.0", False),
    ],
)
def test_what_announces_a_break(old: str, new: str, announced: bool) -> None:
    assert contracts.announces_break(old, new) is announced
