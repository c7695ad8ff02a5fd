"""Every overlay renders with kustomize v5.7.1 and validates against the Kubernetes schemas.

Validation is offline (kubernetes-validate bundles the schemas) and strict: an unknown
field fails, as does a kind without a schema. Then the properties the deployment relies on.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from .k8s import K8S, OVERLAYS, containers, objects, secret_templates

# The oldest Kubernetes minor we claim to support, and the newest the schemas know.
VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version() + ".0")
SERVICES = {"gateway": 8000, "streaming": 8001, "auth": 8010, "entitlements": 8011, "metrics": 8012}
EDGE = {"gateway", "streaming"}

Obj = dict[str, Any]


def by_kind(overlay: str, kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects(overlay) if o["kind"] == kind}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates(overlay: str, version: str) -> None:
    rendered = objects(overlay)
    assert rendered
    failures = []
    for obj in rendered:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}")
    assert not failures, "\n".join(failures)


def test_secret_templates_validate_and_hold_no_values() -> None:
    for name, secret in secret_templates().items():
        kubernetes_validate.validate(secret, VERSIONS[-1], strict=True)
        assert all(v == "" for v in secret["stringData"].values()), name
        assert "data" not in secret, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_lives_in_the_namespace(overlay: str) -> None:
    for obj in objects(overlay):
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == "254carbon-access"
        else:
            assert obj["metadata"]["namespace"] == "254carbon-access", obj["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_probe_limit_and_restrict(overlay: str) -> None:
    deployments = by_kind(overlay, "Deployment")
    assert set(deployments) == set(SERVICES)
    for name, dep in deployments.items():
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        (container,) = containers(dep)
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env["ACCESS_PORT"] == str(SERVICES[name])
        assert container["ports"][0]["containerPort"] == SERVICES[name]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_termination_grace_covers_the_drain(overlay: str) -> None:
    config = by_kind(overlay, "ConfigMap")["access-config"]["data"]
    for name, dep in by_kind(overlay, "Deployment").items():
        pod = dep["spec"]["template"]["spec"]
        (container,) = containers(dep)
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        drain = float(
            env.get("ACCESS_SHUTDOWN_GRACE_SECONDS", config["ACCESS_SHUTDOWN_GRACE_SECONDS"])
        )
        pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
        assert pre_stop + drain < pod["terminationGracePeriodSeconds"], name
        if name == "streaming":
            # WebSocket and SSE clients get a real drain window, not the REST one.
            assert drain >= 30
            assert pod["terminationGracePeriodSeconds"] >= 60


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_routes_rest_and_streams_with_long_sticky_connections(overlay: str) -> None:
    ingresses = by_kind(overlay, "Ingress")
    paths = {
        p["path"]: p["backend"]["service"]["name"]
        for ing in ingresses.values()
        for rule in ing["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert paths == {
        "/api": "gateway-service",
        "/webhook": "gateway-service",
        "/ws": "streaming-service",
        "/sse": "streaming-service",
    }
    notes = ingresses["streaming"]["metadata"]["annotations"]
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    hosts = {r["host"] for ing in ingresses.values() for r in ing["spec"]["rules"]}
    assert len(hosts) == 1
    if overlay != "local":
        assert all(ing["spec"]["tls"] for ing in ingresses.values())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_edge_services_are_reachable_from_the_ingress(overlay: str) -> None:
    policies = list(by_kind(overlay, "NetworkPolicy").values())
    covered: dict[str, list[Obj]] = {}
    for pol in policies:
        (expr,) = pol["spec"]["podSelector"]["matchExpressions"]
        assert expr["key"] == "app" and expr["operator"] == "In"
        for app in expr["values"]:
            covered.setdefault(app, []).extend(pol["spec"]["ingress"])
    assert set(covered) == set(SERVICES)
    for app, rules in covered.items():
        sources = [src for rule in rules for src in rule["from"]]
        from_ingress = any(
            src.get("namespaceSelector", {})
            .get("matchLabels", {})
            .get("kubernetes.io/metadata.name")
            == "ingress-nginx"
            for src in sources
        )
        assert from_ingress == (app in EDGE), app
        if app not in EDGE:
            pod_sources = [s["podSelector"] for s in sources if "podSelector" in s]
            assert pod_sources == [
                {
                    "matchExpressions": [
                        {"key": "app", "operator": "In", "values": ["gateway", "streaming"]}
                    ]
                }
            ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_a_disruption_budget(overlay: str) -> None:
    pdbs = by_kind(overlay, "PodDisruptionBudget")
    assert {p["spec"]["selector"]["matchLabels"]["app"] for p in pdbs.values()} == set(SERVICES)


@pytest.mark.parametrize(("overlay", "floor"), [("staging", 2), ("production", 3)])
def test_autoscaled_edge_services_leave_replicas_to_the_hpa(overlay: str, floor: int) -> None:
    hpas = by_kind(overlay, "HorizontalPodAutoscaler")
    assert set(hpas) == EDGE
    assert all(h["spec"]["minReplicas"] == floor for h in hpas.values())
    streaming_metrics = {m["type"] for m in hpas["streaming"]["spec"]["metrics"]}
    assert streaming_metrics == {"Pods", "Resource"}
    deployments = by_kind(overlay, "Deployment")
    for name in EDGE:
        assert "replicas" not in deployments[name]["spec"]
    for name in set(SERVICES) - EDGE:
        assert deployments[name]["spec"]["replicas"] == 2


def test_local_runs_on_embedded_backends() -> None:
    backend_vars = {
        "ACCESS_REDIS_URL",
        "ACCESS_NATS_URL",
        "ACCESS_KAFKA_BOOTSTRAP",
        "ACCESS_JWKS_URL",
    }
    for name, cm in by_kind("local", "ConfigMap").items():
        assert not backend_vars & set(cm.get("data") or {}), name
    assert by_kind("local", "ConfigMap")["access-config"]["data"]["ACCESS_ENV"] == "local"
    assert set(by_kind("local", "Secret")) == {"entitlements-secrets"}


def test_service_monitors_scrape_existing_services() -> None:
    """k8s/monitoring needs the Prometheus Operator CRDs (no schema here): check the wiring."""
    services = by_kind("production", "Service")
    for path in sorted((K8S / "monitoring").glob("*-servicemonitor.yaml")):
        monitor = yaml.safe_load(path.read_text())
        assert monitor["kind"] == "ServiceMonitor"
        labels = monitor["spec"]["selector"]["matchLabels"]
        matching = [
            s for s in services.values() if labels.items() <= s["metadata"]["labels"].items()
        ]
        assert len(matching) == 1, path.name
        ports = {p["name"] for p in matching[0]["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in ports, path.name
            assert endpoint["path"] == "/metrics"
    assert len(list((K8S / "monitoring").glob("*-servicemonitor.yaml"))) == len(SERVICES)
