"""Every variable a Deployment sets is one its service reads (no dead or misspelt config).

What a service reads is what its settings class declares: the class its entry point
(``access_<name>.main``) hands to ``access_common.run.serve``, field by field, with the
``ACCESS_`` prefix or the field's own aliases. What a Deployment sets: its ``env``, the
keys of the ConfigMaps it reads with ``envFrom`` and the keys of its Secrets, taken from
the rendered Secret or, where the environment provides it, from the template
k8s/base/secrets.example.yaml.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

from access_common.settings import ServiceSettings

from .k8s import OVERLAYS, REPO, containers, objects, secret_templates

Obj = dict[str, Any]


def settings_class(service: str) -> type[BaseSettings]:
    """The settings class the service's process loads at start."""
    main = importlib.import_module(f"access_{service}.main")
    found = {
        value
        for value in vars(main).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
    }
    assert len(found) == 1, f"access_{service}.main: expected one settings class, found {found}"
    return found.pop()


def variables_read(cls: type[BaseSettings]) -> set[str]:
    """Every environment variable a settings class reads (upper-case; reading ignores case)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            names.add(f"{prefix}{field.alias or field_name}".upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(c.upper() for c in alias.choices if isinstance(c, str))
        elif isinstance(alias, AliasPath):  # pragma: no cover - no service nests variables
            names.add(str(alias.path[0]).upper())
    return names


def variables_set(overlay: str, deployment: Obj) -> dict[str, str]:
    """Each variable the Deployment's container receives, mapped to where it comes from."""
    rendered = objects(overlay)
    config_maps = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "ConfigMap"}
    secrets = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "Secret"}
    templates = secret_templates()
    (container,) = containers(deployment)
    found: dict[str, str] = {e["name"]: "env" for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            assert name in config_maps, f"ConfigMap {name} is not rendered in {overlay}"
            found.update({key: f"ConfigMap {name}" for key in config_maps[name].get("data") or {}})
        else:
            name = source["secretRef"]["name"]
            secret = secrets.get(name) or templates.get(name)
            assert secret is not None, f"Secret {name}: neither rendered nor in the template"
            keys = set(secret.get("stringData") or {}) | set(secret.get("data") or {})
            if name not in secrets:
                keys |= set(templates[name].get("stringData") or {})
            found.update({key: f"Secret {name}" for key in keys})
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_a_deployment_sets_is_read_by_its_service(overlay: str) -> None:
    problems = []
    for dep in (o for o in objects(overlay) if o["kind"] == "Deployment"):
        service = dep["metadata"]["name"]
        read = variables_read(settings_class(service))
        for variable, origin in sorted(variables_set(overlay, dep).items()):
            if variable.upper() not in read:
                problems.append(f"{service}: {variable} (from {origin}) is not read by the service")
    assert not problems, "\n".join(problems)


def test_secret_templates_name_only_variables_their_service_reads() -> None:
    for name, secret in secret_templates().items():
        service = name.removesuffix("-secrets")
        read = variables_read(settings_class(service))
        assert set(secret["stringData"]) <= read, name


def test_the_reader_sees_aliases_and_prefix() -> None:
    read = variables_read(settings_class("gateway"))
    assert {
        "ACCESS_PORT",
        "ACCESS_REDIS_URL",
        "ACCESS_METRICS_SERVICE_URL",
        "ACCESS_METRICS_ENDPOINT",
    } <= read
    assert "ACCESS_JWKS_URL" not in read


def test_every_variable_compose_sets_is_read_by_its_service() -> None:
    """The same rule for compose.yaml (docker compose is not on this machine to run it)."""
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    problems = []
    for service in ("gateway", "streaming", "auth", "entitlements", "metrics"):
        spec = compose["services"][service]
        assert spec["build"]["args"]["SERVICE"] == service
        assert spec["environment"]["ACCESS_PORT"] == spec["build"]["args"]["PORT"]
        read = variables_read(settings_class(service))
        problems += [f"{service}: {v}" for v in spec["environment"] if v.upper() not in read]
    assert not problems, "\n".join(problems)
