"""deploy/examples/shop: the simulator's demo shop as real manifests. They are up to date,
`kubectl kustomize` builds them, the built objects describe the same shop as
config/demo/cluster.yaml (read independently of the generator), they are valid for the
three most recent Kubernetes minor versions kubernetes-validate knows, and the Helm values
next to them make the chart run the demo catalog they ship."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

from daemon.catalog.loader import LoadOptions, load_catalog
from daemon.demoapp import parse_dependencies
from daemon.settings import load_settings
from tests.conftest import REPO
from tests.e2e.test_helm_chart import by_kind, render

SHOP = REPO / "deploy" / "examples" / "shop"
CLUSTER = yaml.safe_load((REPO / "config" / "demo" / "cluster.yaml").read_text())


def generator():
    spec = importlib.util.spec_from_file_location("shopgen", SHOP / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def built() -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed; scripts/bootstrap installs it")
    done = subprocess.run(
        [kubectl, "kustomize", str(SHOP)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [o for o in yaml.safe_load_all(done.stdout) if o]


def newest_minor_versions(count: int = 3) -> list[str]:
    versions = {
        kubernetes_validate.utils.major_minor(v) for v in kubernetes_validate.utils.all_versions()
    }
    ordered = sorted(versions, key=lambda v: tuple(int(p) for p in v.split(".")))
    return [f"{v}.0" for v in ordered[-count:]]


def test_files_are_up_to_date() -> None:
    for name, text in generator().render().items():
        assert (SHOP / name).read_text() == text, f"{name}: run python {SHOP / 'generate.py'}"


def test_the_manifests_describe_the_simulators_demo_shop() -> None:
    objects = built()
    (shop,) = [n for n in CLUSTER["namespaces"] if n["name"] == "shop"]
    namespaces = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Namespace"}
    assert set(namespaces) == {"shop", "aftershock"}
    for key, value in shop["labels"].items():  # the opt-in label
        assert namespaces["shop"]["metadata"]["labels"][key] == value

    in_shop = [o for o in objects if o["metadata"].get("namespace") == "shop"]
    deployments = {o["metadata"]["name"]: o for o in in_shop if o["kind"] == "Deployment"}
    services = {o["metadata"]["name"]: o for o in in_shop if o["kind"] == "Service"}
    assert set(deployments) == {w["name"] for w in shop["workloads"]}
    assert set(services) == {w["name"] for w in shop["workloads"] if "service" in w}
    for workload in shop["workloads"]:
        deployment = deployments[workload["name"]]
        pod = deployment["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        service = workload.get("service") or {}
        unavailable = service.get("unavailable") or {}
        assert deployment["spec"]["replicas"] == workload["replicas"]
        assert deployment["spec"]["selector"]["matchLabels"] == workload["labels"]
        assert pod["metadata"]["labels"] == workload["labels"]
        assert pod["spec"]["terminationGracePeriodSeconds"] == workload["grace_period"]
        assert container["args"] == ["demo-app"]
        assert env["AFTERSHOCK_DEMO_SERVICE"] == workload["name"]
        depends = parse_dependencies(env.get("AFTERSHOCK_DEMO_DEPENDS_ON", ""))
        assert [d.name for d in depends] == service.get("depends_on", [])
        assert int(env.get("AFTERSHOCK_DEMO_UNAVAILABLE_STATUS", 503)) == unavailable.get(
            "status", 503
        )
        assert env.get("AFTERSHOCK_DEMO_UNAVAILABLE_DELAY", "0s") == unavailable.get("delay", "0s")
        svc = services[workload["name"]]
        assert svc["spec"]["selector"] == workload["labels"]
        ((port,),) = [svc["spec"]["ports"]]
        assert port["port"] == service.get("port", 80)
        assert port["targetPort"] == "http"
        assert {p["name"] for p in container["ports"]} == {"http"}

    pdbs = {o["metadata"]["name"]: o for o in in_shop if o["kind"] == "PodDisruptionBudget"}
    assert {
        name: (p["spec"]["selector"]["matchLabels"], p["spec"].get("minAvailable"))
        for name, p in pdbs.items()
    } == {p["name"]: (p["selector"], p.get("min_available")) for p in shop["pdbs"]}


def test_the_catalog_configmap_is_the_demo_catalog_and_loads(tmp_path: Path) -> None:
    (catalog,) = [o for o in built() if o["kind"] == "ConfigMap"]
    expected = {
        p.name: p.read_text()
        for p in (REPO / "config" / "experiments").iterdir()
        if p.suffix in {".yaml", ".json"}
    }
    assert catalog["data"] == expected
    assert catalog["metadata"]["namespace"] == "aftershock"


@pytest.mark.parametrize("version", newest_minor_versions())
def test_manifests_are_valid_kubernetes(version: str) -> None:
    objects = built()
    assert len(objects) == 10
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_chart_with_the_shop_values_runs_the_demo_catalog(tmp_path: Path) -> None:
    values = yaml.safe_load((SHOP / "helm-values.yaml").read_text())
    (catalog,) = [o for o in built() if o["kind"] == "ConfigMap"]
    objects = render(values)
    (deployment,) = by_kind(objects, "Deployment")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["catalog"]["configMap"]["name"] == catalog["metadata"]["name"]
    settings_map = next(
        o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-settings")
    )
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(settings_map["data"]["settings.yaml"])
    settings = load_settings(settings_file)
    assert settings.safety.dry_run is False
    directory = tmp_path / "experiments"
    directory.mkdir()
    for name, text in catalog["data"].items():
        (directory / name).write_text(text)
    report = load_catalog([directory], LoadOptions.from_settings(settings))
    assert all(f.ok for f in report.files), [p.render() for f in report.files for p in f.problems]
    assert len(report.files) == len(catalog["data"]) - 1  # catalog.yaml configures, is no file
