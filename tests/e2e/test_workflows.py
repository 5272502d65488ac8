"""The GitHub workflows: actionlint is clean, every action is pinned by full commit SHA
with its version in a comment, and each workflow does what docs/run-on-your-cluster.md
says it does."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
PINNED = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+(\.\d+)*\s*$")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def runs(workflow: dict) -> str:
    return "\n".join(step.get("run", "") for step in steps(workflow))


def uses(workflow: dict) -> set[str]:
    return {step["uses"].split("@")[0] for step in steps(workflow) if "uses" in step}


def test_actionlint_is_clean() -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.fail("actionlint is not installed; scripts/bootstrap --test installs it")
    done = subprocess.run(
        [actionlint, "-no-color", "-oneline"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_action_is_pinned_by_commit_sha_with_its_version() -> None:
    names = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
    assert names == ["ci.yml", "e2e-kind.yml", "release.yml"]
    for name in names:
        for number, line in enumerate((WORKFLOWS / name).read_text().splitlines(), 1):
            if re.match(r"^\s*(-\s*)?uses:", line):
                assert PINNED.match(line), f"{name}:{number}: not pinned by SHA: {line.strip()}"


def test_ci_runs_the_readmes_test_command() -> None:
    assert "./scripts/test" in (REPO / "README.md").read_text()
    assert runs(load("ci.yml")).strip().splitlines()[-1] == "./scripts/test"


def test_e2e_kind_builds_loads_installs_runs_the_suite_and_scrapes() -> None:
    workflow = load("e2e-kind.yml")
    text = runs(workflow)
    assert {"docker/setup-buildx-action", "docker/build-push-action", "helm/kind-action"} <= uses(
        workflow
    )
    assert "kind load docker-image" in text
    assert "kubectl apply -k deploy/examples/shop" in text
    assert "helm install aftershock deploy/helm/aftershock" in text
    assert "deploy/examples/shop/helm-values.yaml" in text
    assert "scripts/cluster_suite.py --kubeconfig" in text
    assert "/metrics" in text
    upload = next(
        s for s in steps(workflow) if s.get("uses", "").startswith("actions/upload-artifact")
    )
    assert upload["if"] == "failure()"
    image = workflow["env"]["IMAGE"]
    shop = yaml.safe_load((REPO / "deploy/examples/shop/kustomization.yaml").read_text())
    assert image == f"{shop['images'][0]['name']}:{shop['images'][0]['newTag']}"


def test_release_publishes_a_multi_arch_image_with_attestations_the_chart_and_the_wheel() -> None:
    workflow = load("release.yml")
    assert workflow[True]["push"]["tags"] == ["v*.*.*"]  # YAML 1.1 reads `on` as true
    build = next(
        s for s in steps(workflow) if s.get("uses", "").startswith("docker/build-push-action")
    )
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert build["with"]["sbom"] is True
    assert build["with"]["provenance"] == "mode=max"
    text = runs(workflow)
    assert "helm push" in text
    assert "oci://ghcr.io/" in text
    assert "uv build --wheel" in text
