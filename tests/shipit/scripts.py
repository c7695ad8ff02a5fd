"""Load the project's scripts (scripts/*.py are not a package) as modules for the tests."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from .k8s import REPO

__all__ = ["load_script"]


def load_script(name: str) -> ModuleType:
    """scripts/<name>.py as a module, loaded once."""
    key = f"access_scripts_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module
