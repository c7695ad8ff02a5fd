"""Service manifests match their JSON Schema and the repository; the index aggregates them."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .k8s import REPO
from .scripts import load_script

manifests = load_script("manifests")


def test_make_manifest_validate_passes_and_writes_the_index(tmp_path: Path) -> None:
    index = tmp_path / "services-index.json"
    result = subprocess.run(
        [sys.executable, "scripts/manifests.py", "--index", str(index)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    body = json.loads(index.read_text())
    names = [s["service_name"] for s in body["services"]]
    assert names == sorted(["gateway", "streaming", "auth", "entitlements", "metrics"])
    streaming = next(s for s in body["services"] if s["service_name"] == "streaming")
    assert set(streaming["contract_documents"]) == {"streaming-core", "streaming-stream"}
    assert len(body["commit"]) == 40


def _gateway() -> dict[str, Any]:
    return copy.deepcopy(manifests.manifests()["gateway"])


def _problems(manifest: dict[str, Any], service: str = "gateway") -> list[str]:
    pinned = dict(json.loads((REPO / "specs.lock.json").read_text())["contracts"])
    names = {"gateway", "streaming", "auth", "entitlements", "metrics"}
    result: list[str] = manifests.problems(service, manifest, pinned, names)
    return result


def test_the_committed_manifest_is_valid() -> None:
    assert _problems(_gateway()) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m.pop("owner"), "'owner' is a required property"),
        (lambda m: m.update(maturity="done"), "maturity"),
        (lambda m: m.update(language_version=3.11), "language_version"),
        (lambda m: m.update(api_contracts=["gateway-core@9.9.9"]), "specs.lock.json pins"),
        (lambda m: m.update(api_contracts=["gateway-core"]), "api_contracts/0"),
        (lambda m: m.update(service_name="gate"), "folder service-gateway"),
        (lambda m: m["dependencies"]["internal"].append("gateway"), "the service itself"),
        (lambda m: m.update(events_out=["Signals Raw"]), "events_out/0"),
        (lambda m: m["sla"].update(p95_latency_ms=-1), "sla"),
        (lambda m: m.update(extra=1), "Additional properties"),
    ],
)
def test_a_bad_manifest_is_refused(change: Any, expected: str) -> None:
    manifest = _gateway()
    change(manifest)
    found = _problems(manifest)
    assert any(expected in p for p in found), found


def test_a_contract_document_missing_from_api_contracts_is_refused() -> None:
    manifest = copy.deepcopy(manifests.manifests()["streaming"])
    manifest["api_contracts"] = ["streaming-core@0.1.0"]
    found = _problems(manifest, "streaming")
    assert any("streaming-stream.asyncapi.yaml is not in api_contracts" in p for p in found)


def test_agent_context_names_what_exists() -> None:
    context = yaml.safe_load((REPO / ".agent" / "context.yaml").read_text())
    folders = {p.name.removeprefix("service-") for p in REPO.glob("service-*") if p.is_dir()}
    assert set(context["services"]) == folders
    assert (REPO / context["contracts_from"]).exists()
    assert (REPO / context["manifests"]["schema"]).exists()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", (REPO / "Makefile").read_text(), flags=re.M))
    used = {t for c in context["commands"].values() for t in re.findall(r"make ([a-z0-9-]+)", c)}
    assert used <= targets, used - targets
