"""Render the kustomize overlays with the project's kustomize and read the objects back."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "K8S",
    "OVERLAYS",
    "REPO",
    "containers",
    "kustomize",
    "objects",
    "render",
    "secret_templates",
    "tool",
]

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("local", "dev", "staging", "production")
Obj = dict[str, Any]


@cache
def tool(name: str) -> Path:
    """A Go tool of scripts/tools.sh, built into .local/bin on first use (idempotent)."""
    subprocess.run([str(REPO / "scripts" / "tools.sh"), name], check=True, timeout=1200)
    return REPO / ".local" / "bin" / name


def kustomize() -> Path:
    """The pinned kustomize (v5.7.1)."""
    return tool("kustomize")


@cache
def render(overlay: str) -> str:
    """`kustomize build k8s/overlays/<overlay>` as YAML text."""
    out = subprocess.run(
        [str(kustomize()), "build", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stdout


def objects(overlay: str) -> list[Obj]:
    """Every object an overlay renders."""
    return [doc for doc in yaml.safe_load_all(render(overlay)) if doc]


def containers(deployment: Obj) -> list[Obj]:
    """The containers of a Deployment's pod template."""
    return list(deployment["spec"]["template"]["spec"]["containers"])


def secret_templates() -> dict[str, Obj]:
    """The Secret templates of k8s/base/secrets.example.yaml, by name."""
    text = (K8S / "base" / "secrets.example.yaml").read_text()
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all(text) if d}
