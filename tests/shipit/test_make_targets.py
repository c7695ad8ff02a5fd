"""The Makefile has seed 001's targets; those that need Docker say so in one line here."""

from __future__ import annotations

import subprocess

import pytest

from .k8s import REPO

SEED_TARGETS = [
    "install", "dev-all", "test", "lint", "smoke", "spec-sync", "contract-check",
    "manifest-validate", "build", "buildx", "push", "buildx-push", "docker-up",
]  # fmt: skip


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-s", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _docker_engine() -> bool:
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return info.returncode == 0


def test_help_lists_every_seed_target() -> None:
    listed = {line.split()[1] for line in make("help").stdout.splitlines() if line.strip()}
    assert set(SEED_TARGETS) <= listed


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["build"], "SERVICE=<gateway|streaming|auth|entitlements|metrics> is required"),
        (["build", "SERVICE=nope"], "SERVICE=<gateway|"),
        (["buildx", "SERVICE=gateway"], "VERSION=<x.y.z> is required"),
        (["push", "SERVICE=gateway"], "VERSION=<x.y.z> is required"),
        (["buildx-push", "SERVICE=gateway"], "VERSION=<x.y.z> is required"),
    ],
)
def test_missing_arguments_are_named_before_anything_runs(args: list[str], says: str) -> None:
    result = make(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(_docker_engine(), reason="a Docker engine is reachable: the targets would run")
@pytest.mark.parametrize(
    "args",
    [
        ["build", "SERVICE=gateway"],
        ["buildx", "SERVICE=streaming", "VERSION=1.0.0"],
        ["push", "SERVICE=auth", "VERSION=1.0.0"],
        ["buildx-push", "SERVICE=metrics", "VERSION=1.0.0"],
        ["docker-up"],
    ],
)
def test_docker_targets_say_in_one_line_that_there_is_no_engine(args: list[str]) -> None:
    result = make(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert f"make {args[0]}: needs a Docker engine" in line
