"""Reading the gateway's YAML files into models, every failure one line naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["ConfigFileError", "load_yaml_model"]

M = TypeVar("M", bound=BaseModel)


class ConfigFileError(ValueError):
    """A configuration file is unreadable or invalid; the message says where."""


def load_yaml_model(
    source: Path, model: type[M], *, transform: Callable[[Any], Any] = lambda data: data
) -> M:
    """Parse ``source`` as YAML, ``transform`` the data, validate it as ``model``."""
    try:
        text = source.read_text()
    except OSError as exc:
        raise ConfigFileError(f"{source}: cannot read ({exc.strerror})") from None
    try:
        return model.model_validate(transform(yaml.safe_load(text)))
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{source}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise ConfigFileError(f"{source}: {problems}") from None
