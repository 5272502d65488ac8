"""The Kustomize base: generated from the chart, up to date, and `kubectl kustomize` builds
the same core objects as `helm template`."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

BASE = REPO / "deploy" / "kustomize" / "base"


def generator():
    spec = importlib.util.spec_from_file_location("kgen", REPO / "deploy/kustomize/generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def keyed(objects) -> dict:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_base_is_up_to_date_and_builds_the_charts_core_objects() -> None:
    expected = keyed(generator().core_objects())
    on_disk = [
        obj
        for path in sorted(BASE.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for obj in yaml.safe_load_all(path.read_text())
        if obj
    ]
    assert keyed(on_disk) == expected, "run python deploy/kustomize/generate.py"
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed; scripts/bootstrap installs it")
    built = subprocess.run(
        [kubectl, "kustomize", str(BASE)], capture_output=True, text=True, check=False, timeout=60
    )
    assert built.returncode == 0, built.stderr
    objects = [o for o in yaml.safe_load_all(built.stdout) if o]
    for obj in objects:
        assert obj["metadata"]["labels"].pop("app.kubernetes.io/managed-by") == "kustomize"
    assert keyed(objects) == expected
