"""docs/runbooks.md stays true: its commands run, and its kubectl lines name real objects.

Blocks marked ``<!-- runbook-test: stack -->`` run against a local stack on free ports
(non-destructive), ``redis`` against a throwaway Redis holding sample keys (the flushes,
checked key by key), ``offline`` with no server. Every other ``kubectl`` command is
checked against the rendered overlays; every ``make`` target against the Makefile.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from access_common.testing import redis_server

from .k8s import OVERLAYS, REPO, objects, secret_templates
from .stack import LocalStack

RUNBOOK = REPO / "docs" / "runbooks.md"
NAMESPACE = "254carbon-access"


@dataclass(frozen=True)
class Block:
    """One fenced bash block of the runbook and its test marker ('' when unmarked)."""

    marker: str
    code: str
    line: int


@cache
def blocks() -> tuple[Block, ...]:
    found = []
    lines = RUNBOOK.read_text().splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            indent = len(lines[i]) - len(lines[i].lstrip())
            marker = ""
            previous = lines[i - 1].strip() if i else ""
            if match := re.fullmatch(r"<!-- runbook-test: (\w+) -->", previous):
                marker = match.group(1)
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            body = "\n".join(line[indent:] for line in lines[i + 1 : end])
            found.append(Block(marker, textwrap.dedent(body), i + 1))
            i = end
        i += 1
    return tuple(found)


def conventions() -> str:
    """The first block: the variables every command uses."""
    return blocks()[0].code


def run(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    script = f"set -euo pipefail\n{conventions()}\n{code}\n"
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def marked(marker: str) -> list[Block]:
    return [b for b in blocks() if b.marker == marker]


def test_the_runbook_has_tested_blocks() -> None:
    assert len(marked("stack")) >= 4
    assert len(marked("redis")) == 3
    assert marked("offline")


@pytest.mark.parametrize("block", marked("stack"), ids=lambda b: f"line{b.line}")
def test_stack_commands_run_against_a_local_stack(
    block: Block, stack: LocalStack, tmp_path: Path
) -> None:
    env = {
        **stack.env(),
        "GATEWAY": stack.urls["gateway"],
        "STREAMING": stack.urls["streaming"],
        "AUTH": stack.urls["auth"],
        "ENTITLEMENTS": stack.urls["entitlements"],
        "METRICS": stack.urls["metrics"],
    }
    result = run(block.code, env, REPO)
    assert result.returncode == 0, f"line {block.line}:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("block", marked("offline"), ids=lambda b: f"line{b.line}")
def test_offline_commands_run(block: Block, tmp_path: Path) -> None:
    result = run(
        block.code, {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)}, tmp_path
    )
    assert result.returncode == 0, f"line {block.line}:\n{result.stdout}\n{result.stderr}"
    assert not list(tmp_path.glob("*.yaml")), "the block must not leave a secret file behind"


SAMPLE = {
    "rl:tenant-a:alice:60:1": "3",
    "rl:tenant-a:alice:3600:2": "9",
    "rl:tenant-b:bob:60:1": "1",
    "cache:tenant-a:curves": "{}",
    "cache:tenant-b:prices": "{}",
    "nonce:generic:1234": "1",
    "idempotency:generic:abcd": "1",
}


def test_redis_flushes_delete_exactly_their_keys(tmp_path: Path) -> None:
    """Cache flush, then one client's rate limit, then all of them; nonces survive."""
    with redis_server() as redis:
        url = f"redis://127.0.0.1:{redis.port}/0"
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "ACCESS_REDIS_URL": url}

        def cli(*args: str) -> str:
            return subprocess.run(
                ["redis-cli", "-u", url, *args], capture_output=True, text=True, check=True
            ).stdout

        for key, value in SAMPLE.items():
            cli("SET", key, value)
        remaining = set(SAMPLE)
        expected_deleted = [
            {k for k in SAMPLE if k.startswith("cache:")},
            {k for k in SAMPLE if k.startswith("rl:tenant-a:alice:")},
            {k for k in SAMPLE if k.startswith("rl:")},
        ]
        for block, deleted in zip(marked("redis"), expected_deleted, strict=True):
            result = run(block.code, env, tmp_path)
            assert result.returncode == 0, f"line {block.line}: {result.stderr}"
            remaining -= deleted
            assert set(cli("--scan").split()) == remaining, f"line {block.line}"
        assert remaining == {"nonce:generic:1234", "idempotency:generic:abcd"}


# --- static checks of everything else ---------------------------------------------------


@cache
def names() -> dict[str, set[str]]:
    """Object names by kind over all overlays, plus the Secret templates."""
    found: dict[str, set[str]] = {}
    for overlay in OVERLAYS:
        for obj in objects(overlay):
            found.setdefault(obj["kind"], set()).add(obj["metadata"]["name"])
    found.setdefault("Secret", set()).update(secret_templates())
    return found


def kubectl_commands() -> list[tuple[int, str]]:
    commands = []
    for block in blocks():
        for offset, line in enumerate(block.code.replace("\\\n", " ").splitlines()):
            commands += [(block.line + offset, m) for m in re.findall(r"kubectl [^|;)]*", line)]
    return commands


def test_the_runbook_has_kubectl_commands() -> None:
    assert len(kubectl_commands()) >= 20


@pytest.mark.parametrize(("line", "command"), kubectl_commands(), ids=lambda x: str(x)[:40])
def test_kubectl_commands_name_real_objects(line: int, command: str) -> None:
    command = command.split("#", 1)[0].strip()
    # `apply -f` of a file made by `create ... -n <ns> --dry-run`: the file names it.
    if not command.startswith("kubectl apply -f"):
        assert re.search(rf"(-n|--namespace)[ =]{NAMESPACE}\b", command), f"line {line}"
    checks = [
        (r"(?:deployment|deploy)/([\w<>-]+)", "Deployment"),
        (r"\bhpa ([a-z][\w-]*)", "HorizontalPodAutoscaler"),
        (r"svc/([\w-]+)", "Service"),
        (r"secret (?:generic )?([a-z][\w-]*)", "Secret"),
        (r"configmap ([a-z][\w-]*)", "ConfigMap"),
        (r"-l app=([\w-]+)", "Deployment"),
    ]
    for pattern, kind in checks:
        for name in re.findall(pattern, command):
            if name in {"<name>", "generic"}:
                continue
            assert name in names()[kind], f"line {line}: no {kind} {name!r}: {command}"


def test_make_targets_exist() -> None:
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, flags=re.M))
    used = set(re.findall(r"`make (?:-s )?([a-z][a-z0-9-]*)", RUNBOOK.read_text()))
    used |= {t for b in blocks() for t in re.findall(r"\bmake (?:-s )?([a-z][a-z0-9-]*)", b.code)}
    assert used and used <= targets, used - targets
