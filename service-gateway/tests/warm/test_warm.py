"""Cache warm: the endpoint for the caller's tenant, the CLI straight into the store."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import httpx
import orjson

from access_common.backends.memory_kv import MemoryKeyValue
from access_common.http import HttpClient
from access_gateway.testing import FakeUpstream, HostRouter, bearer
from access_gateway.warm import load_hot_queries
from access_gateway.warm.cli import main, run


async def test_warm_endpoint_makes_the_next_reads_hits(stack: Any) -> None:
    response = await stack.client.post("/api/v1/cache/warm", headers=bearer("tok-alice"))
    assert response.status_code == 200, response.text
    report = response.json()
    queries = load_hot_queries(None)
    assert report["planned"] == report["warmed"] == len(queries)
    assert report["errors"] == []
    assert all(key.startswith("gw:c:tenant-a:") for key in report["keys"])
    calls = stack.upstream.total
    hit = await stack.client.get("/api/v1/curves/NG-HH-FWD", headers=bearer("tok-alice"))
    assert hit.headers["x-cache"] == "HIT"
    assert hit.json()["tenant_id"] == "tenant-a"
    other = await stack.client.get("/api/v1/curves/NG-HH-FWD", headers=bearer("tok-bob"))
    assert other.headers["x-cache"] == "MISS"
    assert other.json()["tenant_id"] == "tenant-b"
    assert stack.upstream.total == calls + 1
    metrics = (await stack.client.get("/metrics")).text
    assert f'gateway_served_cache_warm_total{{result="hit"}} {len(queries)}.0' in metrics
    assert "gateway_served_cache_warm_duration_seconds_count 1.0" in metrics
    assert "gateway_served_projection_age_seconds_count" in metrics


async def test_warm_endpoint_dry_run_and_admin_entitlement(stack: Any) -> None:
    dry = await stack.client.post(
        "/api/v1/cache/warm", json={"dry_run": True}, headers=bearer("tok-alice")
    )
    assert dry.json()["skipped"] == dry.json()["planned"] > 0
    assert stack.upstream.total == 0
    bad = await stack.client.post(
        "/api/v1/cache/warm", json={"dry_run": "maybe"}, headers=bearer("tok-alice")
    )
    assert bad.status_code == 422
    stack.entitlements.denied.add(("bob", "cache:warm"))
    denied = await stack.client.post("/api/v1/cache/warm", headers=bearer("tok-bob"))
    assert denied.status_code == 403
    assert denied.json()["code"] == "ENTITLEMENT_DENIED"


def _args(tmp_path: Path, **overrides: Any) -> argparse.Namespace:
    values: dict[str, Any] = {
        "tenant": "tenant-1", "user": "deploy-bot", "redis_url": None,
        "projection_url": "http://projection.test", "dry_run": False,
        "hot_queries_file": None, "routes_file": None, "concurrency": 3,
    }  # fmt: skip
    values.update(overrides)
    return argparse.Namespace(**values)


async def test_cli_warms_into_the_store_and_reports_errors(tmp_path: Path) -> None:
    upstream = FakeUpstream()
    http = HttpClient(
        transport=HostRouter({"projection.test": httpx.MockTransport(upstream.handler)})
    )
    kv = MemoryKeyValue()
    report = await run(_args(tmp_path), kv=kv, http=http, progress=io.StringIO())
    assert report.errors == []
    assert report.warmed == len(load_hot_queries(None))
    for key in report.keys:
        assert (await kv.get(key)) is not None
    assert {h["x-tenant-id"] for h in upstream.seen_headers} == {"tenant-1"}
    ranking = tmp_path / "hot.json"
    ranking.write_text(orjson.dumps({"queries": [
        {"route": "curves.get", "path_params": {"curve_id": "X"}, "weight": 1},
        {"route": "curves.bulk", "weight": 0.5},
        {"route": "instruments.list", "query": {"limit": 9999}, "weight": 0.1},
    ]}).decode())  # fmt: skip
    upstream.status = 500
    report = await run(_args(tmp_path, hot_queries_file=ranking), kv=kv, http=http,
                       progress=io.StringIO())  # fmt: skip
    assert report.warmed == 0
    assert [e["route"] for e in report.errors] == ["curves.bulk", "instruments.list", "curves.get"]
    assert report.errors[-1]["error"] == "UPSTREAM_ERROR"
    await http.aclose()


def test_cli_needs_redis_unless_dry_run(capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("ACCESS_REDIS_URL", raising=False)
    assert main(["--tenant", "t", "--user", "u"]) == 2
    assert main(["--tenant", "t", "--user", "u", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "errors: []" in out
    assert "skipped: 16" in out


def test_progress_bar_only_on_a_terminal() -> None:
    from access_gateway.warm.cli import _Bar  # noqa: PLC0415 - private helper under test

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    shown, hidden = Terminal(), io.StringIO()
    for stream in (shown, hidden):
        bar = _Bar(stream)
        for done in range(1, 5):
            bar(done, 4)
    assert shown.getvalue().endswith("[" + "#" * 30 + "] 4/4\n")
    assert hidden.getvalue() == ""
