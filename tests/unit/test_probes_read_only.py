"""Issue 12, I2: a provider that changes the cluster is an error wherever it runs as a probe.

Hypothesis probes, tolerance probes, `type: probe` activities in the method or rollbacks,
and hypothesis `ref`s to a mutating action: each is refused by `validate` (and at catalog
load), with the file's field path and the provider's name.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from daemon.catalog import providers
from daemon.catalog.loader import load_file

KILL = {
    "type": "python",
    "module": "aftershock.pods",
    "func": "kill",
    "arguments": {"ns": "shop", "mode": "all"},
}
SCALE = {
    "type": "python",
    "module": "chaosk8s.deployment.actions",
    "func": "scale_deployment",
    "arguments": {"name": "coredns", "replicas": 0, "ns": "kube-system"},
}
TERMINATE = {
    "type": "python",
    "module": "chaosk8s.pod.actions",
    "func": "terminate_pods",
    "arguments": {"label_selector": "app=greeter", "ns": "shop"},
}
POST = {"type": "http", "url": "http://webapp.shop/reset", "method": "POST"}


def probe(provider: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "probe", "name": "p", "provider": copy.deepcopy(provider), **extra}


def hypothesis_probe(experiment: dict[str, Any], provider: dict[str, Any]) -> tuple:
    experiment["steady-state-hypothesis"]["probes"] = [probe(provider, tolerance=True)]
    return ("steady-state-hypothesis", "probes", 0, "provider")


def tolerance_probe(experiment: dict[str, Any], provider: dict[str, Any]) -> tuple:
    first = experiment["steady-state-hypothesis"]["probes"][0]
    first["tolerance"] = probe(provider)
    return ("steady-state-hypothesis", "probes", 0, "tolerance", "provider")


def method_probe(experiment: dict[str, Any], provider: dict[str, Any]) -> tuple:
    experiment["method"].append(probe(provider))
    return ("method", 1, "provider")


def rollback_probe(experiment: dict[str, Any], provider: dict[str, Any]) -> tuple:
    experiment["rollbacks"] = [probe(provider)]
    return ("rollbacks", 0, "provider")


PLACES = [hypothesis_probe, tolerance_probe, method_probe, rollback_probe]


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.__name__)
@pytest.mark.parametrize(
    ("provider", "named"),
    [
        (KILL, "aftershock.pods.kill"),
        (SCALE, "chaosk8s.deployment.actions.scale_deployment"),
        (TERMINATE, "chaosk8s.pod.actions.terminate_pods"),
        (POST, "http method POST"),
        ({"type": "process", "path": "kubectl"}, "a process can do anything"),
    ],
    ids=["kill", "scale", "terminate", "http-post", "process"],
)
def test_a_mutating_provider_as_a_probe_is_refused(
    write, options, experiment, place, provider, named
) -> None:
    path = place(experiment, provider)
    result = load_file(write("exp.yaml", experiment), options)
    assert not result.ok
    found = [
        p for p in result.problems if p.path == path and "a probe must be read-only" in p.message
    ]
    assert found, [p.render() for p in result.problems]
    assert named in found[0].message
    assert found[0].line is not None


def test_a_hypothesis_ref_to_a_kill_action_is_refused(write, options, experiment) -> None:
    experiment["method"] = [{"type": "action", "name": "kill-all", "provider": KILL}]
    experiment["steady-state-hypothesis"]["probes"] = [{"ref": "kill-all"}]
    result = load_file(write("exp.yaml", experiment), options)
    assert not result.ok
    assert any(
        p.path == ("steady-state-hypothesis", "probes", 0, "ref")
        and "aftershock.pods.kill" in p.message
        for p in result.problems
    ), [p.render() for p in result.problems]


def test_read_only_probes_and_mutating_actions_stay_valid(write, options, experiment) -> None:
    experiment["method"].append(
        {"type": "action", "name": "reset", "provider": copy.deepcopy(POST)}
    )
    experiment["method"].append(
        probe({"type": "http", "url": "http://webapp.shop/", "method": "HEAD"})
    )
    result = load_file(write("exp.yaml", experiment), options)
    assert result.ok, [p.render() for p in result.problems]


def test_a_templated_http_method_in_a_probe_is_refused_until_known(experiment) -> None:
    provider = {"type": "http", "url": "http://x/", "method": "${m}"}
    at_load = providers.check_provider(provider, as_probe=True, resolved=False)
    assert any("only known at run time" in message for _, message in at_load)
    resolved = providers.resolved_problems({**provider, "method": "GET"}, as_probe=True)
    assert resolved == []
    assert providers.resolved_problems({**provider, "method": "DELETE"}, as_probe=True)
