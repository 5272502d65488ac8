"""The Helm chart through the real Helm engine (helm-python-sdk): lint, render with default
and representative values, validate every object against the Kubernetes schemas, and
check that what it configures is what the daemon accepts."""

from __future__ import annotations

import copy
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from daemon.catalog.loader import LoadOptions, load_catalog
from daemon.settings import load_settings
from tests.conftest import REPO

CHART = REPO / "deploy" / "helm" / "aftershock"
KUBE_VERSION = "1.30.0"
CRDS = {"ServiceMonitor", "PrometheusRule"}  # monitoring.coreos.com: no schema in the bundle

DEMO = {
    path.name: path.read_text()
    for path in (REPO / "config" / "experiments").iterdir()
    if path.name != "catalog.yaml"
}
OVERRIDES = {
    "default": {},
    "everything on": {
        "dryRun": False,
        "experiments": DEMO,
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "networkPolicy": {
            "enabled": True,
            "ingressFrom": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    }
                }
            ],
        },
        "grafanaDashboard": {"enabled": True},
        "api": {"auth": "token", "protectReads": True},
        "settings": {"safety": {"max_percent": 25}, "prometheus": {"url": "http://prom:9090"}},
    },
    "namespace scope, kubernetes auth, no volume": {
        "rbac": {"scope": "namespace", "targetNamespaces": ["shop", "payments"]},
        "api": {"auth": "kubernetes"},
        "persistence": {"enabled": False},
        "replicaCount": 2,
        "existingCatalogConfigMap": "my-experiments",
    },
    "notifications from an existing Secret": {
        "notify": {
            "publicUrl": "https://aftershock.staging.example.com",
            "existingSecret": "team-notify",
            "sinks": [
                {
                    "name": "team-slack",
                    "type": "slack",
                    "url_file": "/etc/aftershock/notify/slack-url",
                },
                {
                    "name": "audit",
                    "type": "webhook",
                    "url": "http://audit.internal/aftershock",
                    "secret_file": "/etc/aftershock/notify/hmac",
                    "outcomes": "all",
                },
            ],
            "digest": {"sink": "team-slack", "at": "09:00", "timezone": "Europe/Paris"},
        },
    },
    "notifications from a Secret the chart creates": {
        "notify": {
            "secret": {"hook": "http://hooks.internal/x"},
            "sinks": [
                {"name": "hook", "type": "webhook", "url_file": "/etc/aftershock/notify/hook"}
            ],
        },
    },
}


def render(values: dict) -> list[dict]:
    chart = helm.Chart.load(CHART)
    try:
        rendered = chart.render(
            copy.deepcopy(values), name="aftershock", namespace="aftershock", is_install=True
        )
    finally:
        chart.close()
    objects = []
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def test_lint_is_clean() -> None:
    report = helm.lint(CHART, strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("case", list(OVERRIDES))
def test_renders_valid_kubernetes_objects(case: str) -> None:
    objects = render(OVERRIDES[case])
    assert objects
    for obj in objects:
        if obj["kind"] in CRDS:
            assert obj["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("case", list(OVERRIDES))
def test_settings_and_catalog_are_what_the_daemon_accepts(case: str, tmp_path: Path) -> None:
    objects = render(OVERRIDES[case])
    settings_map = next(
        o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-settings")
    )
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(settings_map["data"]["settings.yaml"])
    settings = load_settings(settings_file)  # the daemon's own loader: any bad key fails
    assert settings.safety.dry_run is OVERRIDES[case].get("dryRun", True)
    catalogs = [
        o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-catalog")
    ]
    if OVERRIDES[case].get("existingCatalogConfigMap"):
        assert catalogs == []
        return
    (catalog,) = catalogs
    directory = tmp_path / "experiments"
    directory.mkdir()
    for name, text in (catalog.get("data") or {}).items():
        (directory / name).write_text(text)
    report = load_catalog([directory], LoadOptions.from_settings(settings))
    assert all(f.ok for f in report.files), [p.render() for f in report.files for p in f.problems]
    assert len(report.files) == len(OVERRIDES[case].get("experiments", {}))


def test_deployment_is_restricted_and_outlives_the_shutdown_bound() -> None:
    objects = render(OVERRIDES["everything on"])
    (deployment,) = by_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["terminationGracePeriodSeconds"] > 20  # settings.scheduling.shutdown_timeout
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    mounts = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert mounts == {"/var/lib/aftershock", "/tmp"}  # the only writable places


def test_rbac_is_least_privilege() -> None:
    cluster = render({})
    (role,) = by_kind(cluster, "ClusterRole")
    verbs = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert verbs[("", "pods")] == {"get", "list", "watch", "delete"}
    assert verbs[("", "pods/eviction")] == {"create"}
    assert verbs[("", "events")] == {"create"}
    assert all("*" not in v for v in verbs.values())
    assert ("", "secrets") not in verbs
    assert ("authentication.k8s.io", "tokenreviews") not in verbs  # only with auth=kubernetes
    (own,) = [r for r in by_kind(cluster, "Role") if r["metadata"]["name"].endswith("-self")]
    assert own["metadata"]["namespace"] == "aftershock"
    namespaced = render(OVERRIDES["namespace scope, kubernetes auth, no volume"])
    assert by_kind(namespaced, "ClusterRole") == []
    targets = {r["metadata"]["namespace"] for r in by_kind(namespaced, "Role")}
    assert targets == {"shop", "payments", "aftershock"}


def test_values_schema_rejects_mistakes() -> None:
    for bad in ({"dryRun": "no"}, {"rbac": {"scope": "everything"}}, {"unknownKey": 1}):
        with pytest.raises(helm.HelmValuesError):
            render(bad)


def test_packaged_copies_match_their_sources() -> None:
    assert (CHART / "files" / "rules.yaml").read_text() == (
        REPO / "deploy" / "prometheus" / "rules.yaml"
    ).read_text()
    assert (CHART / "files" / "aftershock.json").read_text() == (
        REPO / "deploy" / "grafana" / "aftershock.json"
    ).read_text()
    rules = by_kind(render(OVERRIDES["everything on"]), "PrometheusRule")[0]
    assert rules["spec"] == yaml.safe_load(
        (REPO / "deploy" / "prometheus" / "rules.yaml").read_text()
    )


def notify_volume(objects: list[dict]) -> tuple[dict | None, dict | None]:
    (deployment,) = by_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volume = next((v for v in pod["volumes"] if v["name"] == "notify"), None)
    mount = next((m for m in container["volumeMounts"] if m["name"] == "notify"), None)
    return volume, mount


def test_notify_secrets_are_mounted_from_an_existing_secret(tmp_path: Path) -> None:
    objects = render(OVERRIDES["notifications from an existing Secret"])
    volume, mount = notify_volume(objects)
    assert volume == {"name": "notify", "secret": {"secretName": "team-notify"}}
    assert mount == {"name": "notify", "mountPath": "/etc/aftershock/notify", "readOnly": True}
    assert not [s for s in by_kind(objects, "Secret") if s["metadata"]["name"].endswith("-notify")]
    settings_map = next(
        o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-settings")
    )
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(settings_map["data"]["settings.yaml"])
    notify = load_settings(settings_file).notify
    assert [s.name for s in notify.sinks] == ["team-slack", "audit"]
    assert str(notify.sinks[0].url_file).startswith(mount["mountPath"])
    assert notify.public_url == "https://aftershock.staging.example.com"
    assert notify.digest is not None
    assert notify.digest.timezone == "Europe/Paris"


def test_notify_secret_created_by_the_chart_and_absent_by_default() -> None:
    objects = render(OVERRIDES["notifications from a Secret the chart creates"])
    (secret,) = [s for s in by_kind(objects, "Secret") if s["metadata"]["name"].endswith("-notify")]
    assert secret["stringData"] == {"hook": "http://hooks.internal/x"}
    volume, _mount = notify_volume(objects)
    assert volume == {"name": "notify", "secret": {"secretName": secret["metadata"]["name"]}}
    assert notify_volume(render({})) == (None, None)
