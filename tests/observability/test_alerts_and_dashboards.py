"""Alert rules pass promtool's checks and unit tests; panel queries parse and name real metrics.

PromQL is parsed twice: by promql-parser (a maintained PyPI parser, to walk the query
and collect metric names) and by Prometheus's own parser through `promtool check rules`
over a rules file holding each panel query as a recording rule.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .metric_names import EXTERNAL, exported_names, names_in
from .prom import binary

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "observability" / "alerts"
DASHBOARDS = REPO / "observability" / "dashboards"
RULE_FILES = sorted(p for p in ALERTS.rglob("*.yaml") if "tests" not in p.parts)
TEST_FILES = sorted((ALERTS / "tests").glob("*.test.yaml"))


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL) of every query of every dashboard."""
    return [
        (path.name, panel["title"], target["expr"])
        for path in sorted(DASHBOARDS.glob("*.json"))
        for panel in json.loads(path.read_text())["panels"]
        for target in panel["targets"]
    ]


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scripts.observability.build", "--check"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"run python -m scripts.observability.build: {result.stdout}"


def test_promtool_check_rules() -> None:
    result = subprocess.run(
        [binary("promtool"), "check", "rules", *map(str, RULE_FILES)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_fire_and_stay_quiet() -> None:
    result = subprocess.run(
        [binary("promtool"), "test", "rules", *(p.name for p in TEST_FILES)],
        cwd=ALERTS / "tests", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(TEST_FILES)


def _rules() -> list[dict[str, str]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def test_every_alert_has_a_test_that_fires_and_one_that_stays_quiet() -> None:
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    tested: dict[str, set[bool]] = {}
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test["alert_rule_test"]:
                tested.setdefault(case["alertname"], set()).add(bool(case["exp_alerts"]))
    assert {name for name, kinds in tested.items() if kinds == {True, False}} == alerts
    assert len(alerts) >= 25


def test_every_alert_links_a_runbook_section_of_the_docs() -> None:
    doc = (REPO / "docs" / "observability.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in doc.splitlines()
        if line.startswith("#")
    }
    for rule in _rules():
        if "alert" not in rule:
            continue
        url = rule["annotations"]["runbook_url"]  # type: ignore[index]
        path, _, anchor = url.partition("#")
        assert path == "docs/observability.md", url
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in docs/observability.md"


def test_seed_dashboards_and_alerts_exist() -> None:
    dashboards = {p.name for p in DASHBOARDS.glob("*.json")}
    assert {"gateway_overview.json", "gateway_served_cache.json"} <= dashboards
    assert (ALERTS / "SLO" / "api_latency_slo.yaml").exists()
    assert (ALERTS / "RED" / "gateway_red.yaml").exists()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("ACCESS_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    try:
        return exported_names()
    finally:
        monkeypatch.undo()


def test_every_panel_query_names_only_exported_metrics(exported: set[str]) -> None:
    unknown = {
        (file, title, name)
        for file, title, query in panel_queries()
        for name in names_in(query)
        if name not in exported
    }
    assert not unknown


def test_every_alert_names_only_exported_or_recorded_metrics(exported: set[str]) -> None:
    rules = _rules()
    recorded = {rule["record"] for rule in rules if "record" in rule}
    unknown = {
        (rule.get("alert") or rule.get("record"), name)
        for rule in rules
        for name in names_in(rule["expr"])
        if name not in exported | EXTERNAL | recorded
    }
    assert not unknown


def test_every_panel_query_parses_as_promql_for_prometheus(tmp_path: Path) -> None:
    queries = panel_queries()
    rules = {
        "groups": [
            {
                "name": "panels",
                "rules": [
                    {"record": f"panel:query_{i}:check", "expr": query}
                    for i, (_, _, query) in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [binary("promtool"), "check", "rules", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout
