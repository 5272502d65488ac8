"""Issue 12, finding 10 (I8): values from `${}` templates obey the rules literal values obey.

They are checked after substitution, with the registry's validators, before anything is
disrupted. Counted from the simulator's ground truth (`/sim/v1/timeline`), not the journal.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from daemon.catalog.extension import AftershockSettings
from daemon.engine.context import RunContext
from daemon.engine.runner import Runner
from daemon.kube.client import Connection, Kube
from tests.integration.engine_helpers import greeter_experiment, run_experiment, settings


def kill(**arguments: Any) -> dict[str, Any]:
    return {
        "type": "action",
        "name": f"kill-{len(arguments)}",
        "provider": {
            "type": "python",
            "module": "aftershock.pods",
            "func": "kill",
            "arguments": {"ns": "shop", "label_selector": "app=webapp", **arguments},
        },
    }


def templated(method: list[dict[str, Any]], **variables: tuple[str, str | None]) -> dict:
    """An experiment whose configuration reads each variable from the environment."""
    experiment = greeter_experiment(method=method)
    for name, (key, kind) in variables.items():
        entry: dict[str, Any] = {"type": "env", "key": key}
        if kind:
            entry["env_var_type"] = kind
        experiment["configuration"][name] = entry
    return experiment


CASES = [
    # finding 10: `mode: "${m}"` with m=nuke killed a pod
    ([kill(mode="${m}")], {"m": ("KILL_MODE", None)}, {"KILL_MODE": "nuke"}, "arguments.mode"),
    # ... and `method: nuke` reached a metric label
    (
        [kill(method="${m}")],
        {"m": ("KILL_METHOD", None)},
        {"KILL_METHOD": "nuke"},
        "arguments.method",
    ),
    # a percentage of 0 killed one pod
    (
        [kill(mode="random-max-percent", value="${v}")],
        {"v": ("KILL_VALUE", "int")},
        {"KILL_VALUE": "0"},
        "arguments.value",
    ),
    # a valid kill first: the invalid second one must stop the run before the first acts
    (
        [kill(mode="one"), kill(mode="fixed", value="${v}", grace_period=0)],
        {"v": ("KILL_VALUE", "int")},
        {"KILL_VALUE": "-3"},
        "method[1].provider.arguments.value",
    ),
    (
        [kill(name_pattern="${p}")],
        {"p": ("KILL_PATTERN", None)},
        {"KILL_PATTERN": "(["},
        "arguments.name_pattern",
    ),
]


@pytest.mark.parametrize(("method", "variables", "environ", "field"), CASES)
def test_template_values_are_refused_before_any_disruption(
    sim, method, variables, environ, field
) -> None:
    sim.ready()
    result = run_experiment(sim, templated(method, **variables), environ=environ)
    assert (result.outcome, result.reason) == ("failed", "invalid_configuration")
    error = result.journal["aftershock"]["error"]
    assert field in error
    assert "invalid value after substitution" in error
    assert result.journal["run"] == []
    assert sim.timeline() == []  # ground truth: nothing was disrupted


def test_the_same_values_resolved_validly_do_run(sim) -> None:
    sim.ready()
    experiment = templated([kill(mode="${m}", value="${v}")], m=("M", None), v=("V", "int"))
    result = run_experiment(sim, experiment, environ={"M": "fixed", "V": "1"})
    assert result.journal["run"][0]["status"] == "succeeded", result.journal["aftershock"]
    assert len(sim.timeline()) == 1  # the check does not stand in the way of valid values


def test_each_activity_checks_its_resolved_provider_too(sim) -> None:
    """Rollbacks replayed after a crash go through `_activity` alone: same check there."""
    sim.ready()
    experiment = templated([], m=("M", None))
    experiment["rollbacks"] = [copy.deepcopy(kill(mode="${m}"))]
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=5))
    try:
        ctx = RunContext(
            experiment_id="t",
            run_id="t-1",
            settings=settings(),
            aftershock=AftershockSettings(),
            kube=kube,
            seed=1,
            dry_run=False,
            environ={"M": "nuke", "WEBAPP_URL": sim.sim.service_url("shop", "webapp")},
        )
        records = Runner(ctx, experiment).rollbacks_only()
    finally:
        kube.close()
    assert [r["status"] for r in records] == ["failed"]
    assert "arguments.mode" in records[0]["exception"][-1]
    assert sim.timeline() == []


def test_aftershock_run_var_nuke_kills_nothing(make_sim, tmp_path) -> None:
    """The reported reproduction: `aftershock run --var m=nuke` on `mode: "${m}"`."""
    from tests.integration.test_run_cli import run as run_cli

    sim = make_sim()
    sim.ready()
    experiment = greeter_experiment(method=[kill(mode="${m}", method="${m}")])
    experiment["configuration"]["m"] = "one"
    settings = {"safety": {"dry_run": False, "max_percent": 100, "min_ready_replicas": 0}}
    done = run_cli(sim, tmp_path, experiment, "--var", "m=nuke", settings=settings)
    assert done.returncode == 4, done.stderr
    journal = (tmp_path / "journal.json").read_text()
    assert "invalid value after substitution" in journal
    assert "'nuke'" in journal
    assert sim.timeline() == []
