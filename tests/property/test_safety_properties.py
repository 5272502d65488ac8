"""Safety holds for the whole run (issue 12), as properties checked from ground truth.

Hypothesis generates experiments mixing `aftershock.pods.kill`, `terminate_pods` and
`scale_deployment` (on opted-in, not-opted-in and protected namespaces), background flags,
pauses, rollbacks that kill, and kills used as steady-state probes under every hypothesis
strategy, with generated blast radius and global settings. Each runs on a fresh simulated
cluster through the public CLI or daemon; the simulator's timeline and a watch on every
Deployment say what really happened, never aftershock's journal.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import wait_for
from tests.property.experiments import experiments, fault_rules, kill, limits
from tests.property.ground_truth import (
    Observed,
    ScaleWatch,
    effective_limits,
    scale_up_violations,
    start_sim,
    stop_sim,
    violations,
)
from tests.property.runs import ServeProcess, now, run_cli

# AFTERSHOCK_PROPERTY_SHRINK=0 reports the first failing example unshrunk (quick triage);
# shrinking a failure re-runs examples for up to hypothesis's 5 minutes per property.
PHASES = (
    [Phase.explicit, Phase.reuse, Phase.generate]
    if os.environ.get("AFTERSHOCK_PROPERTY_SHRINK") == "0"
    else list(Phase)
)


def examples(default: int) -> int:
    """AFTERSHOCK_PROPERTY_EXAMPLES=N searches longer (same derandomized start)."""
    return int(os.environ.get("AFTERSHOCK_PROPERTY_EXAMPLES", default))


PROPERTY = settings(
    deadline=None,
    phases=PHASES,
    # The same examples on every machine, no example database; AFTERSHOCK_PROPERTY_RANDOM=1
    # explores new ones (hypothesis then prints the seed to reproduce a failure).
    derandomize=os.environ.get("AFTERSHOCK_PROPERTY_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=False,
)


def _extension(experiment: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(
        (e for e in experiment.get("extensions", []) if e["name"] == "aftershock"), {}
    )
    return found


def _blast(experiment: dict[str, Any]) -> dict[str, Any]:
    blast: dict[str, Any] = _extension(experiment).get("blast_radius", {})
    return blast


def check_one_run(
    experiment: dict[str, Any],
    safety: dict[str, Any],
    *,
    faults: dict[str, Any] | None = None,
    disturbances: Sequence[tuple[float, str, float]] = (),
    seed: int = 7,
) -> None:
    """Run once on a fresh cluster; fail with every broken limit and what was generated.

    `disturbances`: (seconds after the start, "outage" or "drop-watches", outage seconds),
    fired while the run goes on."""
    sim = start_sim()
    timers: list[threading.Timer] = []
    try:
        scales = ScaleWatch(sim)
        if faults:
            sim.control("PUT", "/sim/v1/faults", faults)
        for delay, kind, seconds in disturbances:
            body = {"seconds": seconds} if kind == "outage" else {}
            timer = threading.Timer(delay, sim.control, ("POST", f"/sim/v1/faults/{kind}", body))
            timer.start()
            timers.append(timer)
        started = now()
        output = run_cli(sim, experiment, safety, seed)
        ended = now()
        for timer in timers:
            timer.cancel()
            timer.join(timeout=5)
        # A provider abandoned at its deadline must not go on disrupting after the run.
        time.sleep(3.0 if faults or disturbances else 0.5)
        if faults:
            sim.control("DELETE", "/sim/v1/faults")
        observed = Observed(sim.timeline(), scales.close(), runs=[(started, ended)])
    finally:
        stop_sim(sim)
    limits = effective_limits(safety, _blast(experiment))
    # Under injected latency one activity's deletes can be seconds apart (a delete that the
    # client gave up on lands late): only gaps longer than that count as a second activity.
    burst = 6.0 if faults or disturbances else 1.0
    broken = violations(observed, limits, burst=burst) + scale_up_violations(observed.replicas)
    if _extension(experiment).get("dry_run"):
        changed = {k: v for k, v in observed.replicas.items() if len(v) > 1}
        if observed.disruptions or changed:
            broken.append(
                f"dry run: {len(observed.disruptions)} pods disrupted, replicas changed {changed}"
            )
    assert not broken, "\n".join(
        [
            *broken,
            f"effective limits: {limits}",
            f"outcome: {_outcome(output)}",
            f"pods disrupted (ground truth): {_short(observed)}",
            f"replicas seen: { {f'{k[0]}/{k[1]}': v for k, v in observed.replicas.items()} }",
            f"settings.safety: {json.dumps(safety)}",
            f"experiment: {json.dumps(experiment)}",
        ]
    )


def _outcome(output: str) -> str:
    found = re.findall(r"^outcome: .*$", output, re.MULTILINE)
    return found[-1] if found else output.strip()[-300:]


def _short(observed: Observed) -> list[str]:
    start = min((d["requested_at"] for d in observed.disruptions), default=0.0)
    return [
        f"+{d['requested_at'] - start:.3f}s {d['namespace']}/{d['pod']} ({d['method']})"
        for d in observed.disruptions
    ]


# --------------------------------------------------------------------------- properties


@settings(PROPERTY, max_examples=examples(20))
@given(generated=experiments(), seed=st.integers(0, 2**16))
def test_one_run_never_exceeds_its_limits(generated, seed) -> None:
    """I1 + I3: max_pods run-wide, max_percent and the min-ready floor per workload,
    protected namespaces, opt-in, cooldown inside the run and the daily budget, over the
    whole run (method, background activities, rollbacks, hypothesis probes, scales)."""
    experiment, safety = generated
    check_one_run(experiment, safety, seed=seed)


@settings(PROPERTY, max_examples=examples(10))
@given(
    generated=experiments(),
    faults=fault_rules(),
    disturbances=st.lists(
        st.tuples(
            st.sampled_from([0.2, 0.6, 1.2, 2.0]),
            st.sampled_from(["outage", "drop-watches"]),
            st.sampled_from([0.3, 1.0]),
        ),
        max_size=2,
    ),
    seed=st.integers(0, 2**16),
)
def test_limits_hold_under_random_api_faults(generated, faults, disturbances, seed) -> None:
    """The same limits with random API errors and latency on reads, deletes, evictions and
    scales, API outages and cut watches during the run: a failed, retried or uncertain
    request never widens a run."""
    experiment, safety = generated
    check_one_run(experiment, safety, faults=faults, disturbances=disturbances, seed=seed)


@st.composite
def sequences(draw: st.DrawFn) -> dict[str, Any]:
    """Several runs of one experiment through the daemon, one of them cut by SIGKILL."""
    safety, blast = draw(limits())
    safety["cooldown"] = draw(st.sampled_from(["0s", "1h"]))
    safety["max_disruptions_per_day"] = draw(st.integers(1, 4))
    safety["require_opt_in"] = True
    action = draw(kill())
    arguments = action["arguments"]
    arguments.update(ns="shop", label_selector=draw(st.sampled_from(["app=webapp", "app=api"])))
    if arguments["mode"] == "all":
        arguments["mode"] = "one"
    step: dict[str, Any] = {
        "type": "action",
        "name": "kill",
        "provider": {"type": "python", **action},
    }
    experiment = {
        "title": "generated: limits hold across runs and restarts",
        "description": "hypothesis-generated",
        "method": [step, {**step, "name": "kill-again", "pauses": {"before": 1.2}}]
        if draw(st.booleans())
        else [step],
        "rollbacks": [],
        "extensions": [
            {"name": "aftershock", "blast_radius": blast, "recovery": {"timeout": "3s"}}
        ],
    }
    return {
        "safety": safety,
        "experiment": experiment,
        "runs": draw(st.integers(2, 3)),
        "sigkill_after_first_kill_of_run": draw(st.sampled_from([0, 1, None])),
    }


@settings(PROPERTY, max_examples=examples(3))
@given(scenario=sequences())
def test_cooldown_and_daily_budget_hold_across_runs_and_a_daemon_sigkill(scenario) -> None:
    """I1 + I4 across runs: the history (cooldown, daily budget) must see every disruption,
    even one made seconds before the daemon was SIGKILLed, and a restarted daemon on the same
    history must respect it."""
    safety, experiment = scenario["safety"], scenario["experiment"]
    directory = Path(tempfile.mkdtemp(prefix="aftershock-prop-serve-"))
    catalog = directory / "catalog"
    catalog.mkdir()
    (catalog / "sequence.yaml").write_text(yaml.safe_dump(experiment, sort_keys=False))
    sim = start_sim()
    daemon = ServeProcess(sim, directory, safety, catalog)
    spans: list[tuple[float, float]] = []
    try:
        scales = ScaleWatch(sim)
        daemon.start()
        for index in range(scenario["runs"]):
            before = len(sim.timeline())
            started = now()
            run_id = daemon.trigger("sequence")
            if run_id is None:
                spans.append((started, now()))
                continue
            if index == scenario["sigkill_after_first_kill_of_run"]:
                # SIGKILL a moment after this run's first kill, then restart on the same
                # history file: the kill must count for cooldown and the daily budget.
                with contextlib.suppress(AssertionError):  # refused: nothing to lose
                    wait_for(lambda b=before: len(sim.timeline()) > b, 10, "a kill")
                daemon.sigkill()
                spans.append((started, now()))
                daemon.start()
                continue
            daemon.wait_done(run_id)
            spans.append((started, now()))
        observed = Observed(sim.timeline(), scales.close(), runs=spans)
    finally:
        daemon.stop()
        stop_sim(sim)
        shutil.rmtree(directory, ignore_errors=True)
    limits = effective_limits(safety, _blast(experiment))
    broken = violations(observed, limits, per_run=False)
    for start, end in spans:  # per-run limits, run by run
        one = Observed(
            [d for d in observed.disruptions if start <= d["requested_at"] <= end],
            observed.replicas,
        )
        broken += violations(one, limits)
    assert not broken, "\n".join(
        [
            *dict.fromkeys(broken),
            f"effective limits: {limits}",
            f"run spans: {[(round(a - spans[0][0], 2), round(b - spans[0][0], 2)) for a, b in spans]}",
            f"pods disrupted (ground truth, from the first trigger): {_short(observed)}",
            f"settings.safety: {json.dumps(safety)}",
            f"experiment: {json.dumps(experiment)}",
            f"scenario: runs={scenario['runs']} sigkill in run {scenario['sigkill_after_first_kill_of_run']}",
        ]
    )


def crashed_scales_scenario(
    safety: dict[str, Any],
    blast: dict[str, Any],
    targets: list[int],
    undo: list[int],
    sigkill_after: float,
) -> dict[str, Any]:
    """One run scaling shop/webapp (4 replicas) to each of `targets`, its rollbacks to each
    of `undo`; the daemon is SIGKILLed `sigkill_after` s after the trigger."""
    method = [_scale_step("webapp", "shop", n) for n in targets]
    for index, step in enumerate(method):
        step["name"] = f"scale-{index}-{step['name']}"
    method[-1]["pauses"] = {"after": 30}  # the run is still going when the daemon dies
    rollbacks = [_scale_step("webapp", "shop", n) for n in undo]
    for index, step in enumerate(rollbacks):
        step["name"] = f"undo-{index}-{step['name']}"
    return {
        "safety": {**safety, "require_opt_in": True},
        "experiment": {
            "title": "generated: the scale bounds hold across a crash",
            "description": "hypothesis-generated",
            "method": method,
            "rollbacks": rollbacks,
            "extensions": [{"name": "aftershock", "blast_radius": blast}],
        },
        "sigkill_after": sigkill_after,
    }


@st.composite
def crashed_scales(draw: st.DrawFn) -> dict[str, Any]:
    """Replica counts around the bounds from 4 (scale-up bound 9; from 8: 16)."""
    safety, blast = draw(limits())
    return crashed_scales_scenario(
        safety,
        blast,
        draw(st.lists(st.sampled_from([0, 2, 3, 6, 8, 9, 12]), min_size=1, max_size=3)),
        draw(st.lists(st.sampled_from([3, 4, 9, 10, 16, 24]), min_size=1, max_size=2)),
        draw(st.sampled_from([0.3, 1.0, 2.5])),
    )


def check_crashed_scales(scenario: dict[str, Any]) -> None:
    """I1 across a crash: the run's scale-ups stay within its bound from the replicas it
    first saw, and its scale-downs within its limits, also once the restarted daemon has
    replayed its rollbacks (which only restore)."""
    safety, experiment = scenario["safety"], scenario["experiment"]
    directory = Path(tempfile.mkdtemp(prefix="aftershock-prop-scale-"))
    catalog = directory / "catalog"
    catalog.mkdir()
    (catalog / "scales.yaml").write_text(yaml.safe_dump(experiment, sort_keys=False))
    sim = start_sim()
    daemon = ServeProcess(sim, directory, safety, catalog)
    try:
        scales = ScaleWatch(sim)
        daemon.start()
        started = now()
        run_id = daemon.trigger("scales")
        if run_id is not None:
            time.sleep(scenario["sigkill_after"])
            daemon.sigkill()
            daemon.start()  # replays the run's rollbacks before it is ready for runs
            daemon.wait_done(run_id)
        observed = Observed(sim.timeline(), scales.close(), runs=[(started, now())])
    finally:
        daemon.stop()
        stop_sim(sim)
        shutil.rmtree(directory, ignore_errors=True)
    limits_ = effective_limits(safety, _blast(experiment))
    broken = violations(observed, limits_) + scale_up_violations(observed.replicas)
    assert not broken, "\n".join(
        [
            *broken,
            f"effective limits: {limits_}",
            f"replicas seen: { {f'{k[0]}/{k[1]}': v for k, v in observed.replicas.items()} }",
            f"settings.safety: {json.dumps(safety)}",
            f"experiment: {json.dumps(experiment)}",
            f"SIGKILL {scenario['sigkill_after']} s after the trigger",
        ]
    )


@settings(PROPERTY, max_examples=examples(3))
@given(scenario=crashed_scales())
def test_the_scale_bounds_hold_across_a_daemon_sigkill(scenario) -> None:
    check_crashed_scales(scenario)


# --------------------------------------------------------------------------- regressions


def _kill_step(name: str, arguments: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "action",
        "name": name,
        "provider": {
            "type": "python",
            "module": "aftershock.pods",
            "func": "kill",
            "arguments": arguments,
        },
        **extra,
    }


def _experiment(method: list[dict], blast: dict[str, Any], **extension: Any) -> dict[str, Any]:
    return {
        "title": "regression",
        "description": "issue 12",
        "steady-state-hypothesis": {"title": "nothing", "probes": []},
        "method": method,
        "rollbacks": [],
        "extensions": [
            {
                "name": "aftershock",
                "blast_radius": blast,
                "recovery": {"timeout": "3s"},
                **extension,
            }
        ],
    }


PERMISSIVE = {
    "dry_run": False,
    "max_pods": 10,
    "max_percent": 100,
    "min_ready_replicas": 0,
    "cooldown": "0s",
    "stop_condition_interval": "200ms",
}


def test_finding_1_four_background_kills_share_one_budget() -> None:
    """Four background `fixed 2` kills of one 4-replica workload under max_pods 2."""
    kills = [
        _kill_step(
            f"kill-{i}",
            {"ns": "shop", "label_selector": "app=webapp", "mode": "fixed", "value": 2},
            background=True,
        )
        for i in range(4)
    ]
    blast = {"max_pods": 2, "max_percent": 50, "min_ready_replicas": 2}
    check_one_run(_experiment(kills, blast), PERMISSIVE)


def test_finding_1_sequential_kills_share_max_pods() -> None:
    """Three sequential kills under max_pods 1: one pod at most."""
    kills = [
        _kill_step(f"kill-{i}", {"ns": "shop", "mode": "one"}, pauses={"after": 1.2})
        for i in range(3)
    ]
    check_one_run(_experiment(kills, {"max_pods": 1}), PERMISSIVE)


def test_finding_1_a_workload_is_not_disrupted_again_inside_its_cooldown() -> None:
    """Three sequential kills of webapp, 1.2 s apart, under a 10 min cooldown."""
    kills = [
        _kill_step(
            f"kill-{i}",
            {"ns": "shop", "label_selector": "app=webapp", "mode": "one"},
            pauses={"after": 1.2},
        )
        for i in range(3)
    ]
    check_one_run(_experiment(kills, {"max_pods": 5, "cooldown": "10m"}), PERMISSIVE)


def test_finding_1_a_kill_as_continuous_probe_counts() -> None:
    """A kill used as a steady-state probe with strategy continuously."""
    probe = _kill_step("probe-kill", {"ns": "shop", "label_selector": "app=webapp", "mode": "one"})
    probe["type"] = "probe"
    probe["tolerance"] = {"type": "jsonpath", "path": "$.*"}
    experiment = _experiment(
        [
            {
                "type": "probe",
                "name": "wait",
                "provider": {
                    "type": "python",
                    "module": "chaosk8s.pod.probes",
                    "func": "count_pods",
                    "arguments": {"label_selector": "app=webapp", "ns": "shop"},
                },
                "pauses": {"after": 1.5},
            }
        ],
        {"max_pods": 1},
        hypothesis={"strategy": "continuously", "frequency": "200ms"},
    )
    experiment["steady-state-hypothesis"]["probes"] = [probe]
    check_one_run(experiment, PERMISSIVE)


def _scale_step(name: str, namespace: str, replicas: int) -> dict[str, Any]:
    return {
        "type": "action",
        "name": f"scale-{name}-{replicas}",
        "provider": {
            "type": "python",
            "module": "chaosk8s.deployment.actions",
            "func": "scale_deployment",
            "arguments": {"name": name, "replicas": replicas, "ns": namespace},
        },
    }


def test_finding_2_scale_deployment_cannot_zero_coredns() -> None:
    """`scale_deployment {name: coredns, replicas: 0, ns: kube-system}` must be refused."""
    check_one_run(_experiment([_scale_step("coredns", "kube-system", 0)], {}), PERMISSIVE)


def test_finding_2_scale_down_is_a_disruption_within_limits() -> None:
    """Scaling an opted-in 4-replica Deployment to 0 under max_percent 50 / max_pods 2."""
    check_one_run(
        _experiment([_scale_step("webapp", "shop", 0)], {"max_pods": 2, "max_percent": 50}),
        {**PERMISSIVE, "min_ready_replicas": 1},
    )


def test_finding_2_scale_down_of_a_namespace_that_did_not_opt_in() -> None:
    check_one_run(_experiment([_scale_step("billing", "legacy", 0)], {}), PERMISSIVE)


def test_finding_3_a_replayed_rollback_cannot_compound_the_scale_up_bound() -> None:
    """The run scales webapp 4 -> 8 (its bound: 9); the daemon dies; the replayed rollback
    asks for 16, which a bound computed from the live 8 would allow."""
    check_crashed_scales(crashed_scales_scenario(PERMISSIVE, {}, [8], [16], 2.5))


@st.composite
def concurrent_rounds(draw: st.DrawFn) -> dict[str, Any]:
    """Two experiments on the same workload, triggered together on a daemon that runs two at
    a time, round after round; their limits come from the files or from catalog.yaml."""
    safety, _ = draw(limits())
    safety.update(
        cooldown=draw(st.sampled_from(["0s", "1h"])),
        max_disruptions_per_day=draw(st.integers(1, 3)),
        require_opt_in=True,
        require_workload_ready=draw(st.booleans()),
    )
    blast = {"max_pods": draw(st.integers(1, 2))}
    if draw(st.booleans()):
        blast["cooldown"] = "1h"
    value = draw(st.integers(1, 3))
    step: dict[str, Any] = {
        "type": "action",
        "name": "kill",
        "provider": {
            "type": "python",
            "module": "aftershock.pods",
            "func": "kill",
            "arguments": {
                "ns": "shop",
                "label_selector": "app=webapp",
                "mode": "fixed",
                "value": value,
            },
        },
    }
    return {
        "safety": safety,
        "blast": blast,
        "in_index": draw(st.booleans()),
        "step": step,
        "rounds": 2,
    }


@settings(PROPERTY, max_examples=examples(3))
@given(scenario=concurrent_rounds())
def test_concurrent_runs_share_cooldown_and_daily_budget(scenario) -> None:
    """I1 across concurrent runs: two runs at once on one workload share its cooldown and
    the daily budget."""
    safety, blast = scenario["safety"], scenario["blast"]
    directory = Path(tempfile.mkdtemp(prefix="aftershock-prop-conc-"))
    catalog = directory / "catalog"
    catalog.mkdir()
    names = ("alpha", "beta")
    for name in names:
        experiment: dict[str, Any] = {
            "title": f"concurrent {name}",
            "description": "hypothesis-generated",
            "method": [scenario["step"]],
            "rollbacks": [],
        }
        if not scenario["in_index"]:
            experiment["extensions"] = [
                {"name": "aftershock", "blast_radius": blast, "recovery": {"timeout": "3s"}}
            ]
        (catalog / f"{name}.yaml").write_text(yaml.safe_dump(experiment, sort_keys=False))
    if scenario["in_index"]:
        index = {
            "experiments": [
                {"file": f"{name}.yaml", "blast_radius": blast, "recovery": {"timeout": "3s"}}
                for name in names
            ]
        }
        (catalog / "catalog.yaml").write_text(yaml.safe_dump(index, sort_keys=False))
    sim = start_sim()
    daemon = ServeProcess(sim, directory, safety, catalog, {"max_concurrent_runs": 2})
    spans: list[tuple[float, float]] = []
    try:
        scales = ScaleWatch(sim)
        daemon.start()
        for _ in range(scenario["rounds"]):
            started = now()
            run_ids = [daemon.trigger(name) for name in names]
            for run_id in run_ids:
                if run_id is not None:
                    daemon.wait_done(run_id)
            spans.append((started, now()))
        observed = Observed(sim.timeline(), scales.close(), runs=spans)
    finally:
        daemon.stop()
        stop_sim(sim)
        shutil.rmtree(directory, ignore_errors=True)
    limits_ = effective_limits(safety, blast)
    broken = violations(observed, limits_, per_run=False)
    killed = len(observed.pods_by_workload().get(("shop", "webapp"), ()))
    per_run = min(scenario["step"]["provider"]["arguments"]["value"], limits_.max_pods)
    per_run = min(per_run, limits_.per_workload(4))
    if limits_.cooldown_seconds > 0 and killed > per_run:
        broken.append(
            f"shop/webapp: {killed} pods killed by runs that each may kill at most {per_run}, "
            f"under a cooldown of {limits_.cooldown_seconds:g}s: a second run disrupted it "
            "inside its cooldown"
        )
    for start, end in spans:  # a round's two runs together never exceed one run's max_pods x2
        in_round = [d for d in observed.disruptions if start <= d["requested_at"] <= end]
        if len(in_round) > 2 * per_run:
            broken.append(
                f"a round of two runs killed {len(in_round)} pods > 2 x {per_run} allowed per run"
            )
    assert not broken, "\n".join(
        [
            *dict.fromkeys(broken),
            f"effective limits: {limits_}",
            f"pods disrupted (ground truth): {_short(observed)}",
            f"settings.safety: {json.dumps(safety)}",
            f"scenario: {json.dumps(scenario)}",
        ]
    )


CORRUPTIONS: dict[str, Any] = {
    "syntax error": lambda path: path.write_text("experiments: [ {file: victim.yaml\n"),
    "empty (an editor's truncate-then-write)": lambda path: path.write_text(""),
    "wrong shape": lambda path: path.write_text("experiments: 5\n"),
    "binary garbage": lambda path: path.write_bytes(b"\x00\xff\xfe" * 100),
    "replaced by a directory": lambda path: (path.unlink(), path.mkdir()),
}


@settings(PROPERTY, max_examples=examples(3))
@given(
    corruption=st.sampled_from(sorted(CORRUPTIONS)),
    blast=st.fixed_dictionaries(
        {"max_pods": st.integers(1, 2)},
        optional={"max_percent": st.sampled_from([25, 50])},
    ),
    value=st.integers(2, 4),
    on_limit=st.sampled_from(["refuse", "cap"]),
)
def test_a_broken_catalog_index_never_loosens_limits(corruption, blast, value, on_limit) -> None:
    """I7: an experiment governed by catalog.yaml keeps its index limits (or is not run)
    when the index becomes unreadable; it never runs with the looser global limits."""
    safety = {**PERMISSIVE, "on_limit": on_limit}
    directory = Path(tempfile.mkdtemp(prefix="aftershock-prop-index-"))
    catalog = directory / "catalog"
    catalog.mkdir()
    step = _kill_step(
        "kill",
        {"ns": "shop", "label_selector": "app=webapp", "mode": "fixed", "value": value},
    )
    experiment = {"title": "victim", "description": "i7", "method": [step], "rollbacks": []}
    (catalog / "victim.yaml").write_text(yaml.safe_dump(experiment, sort_keys=False))
    index = catalog / "catalog.yaml"
    entry = {"file": "victim.yaml", "blast_radius": blast, "recovery": {"timeout": "3s"}}
    index.write_text(yaml.safe_dump({"experiments": [entry]}, sort_keys=False))
    sim = start_sim()
    daemon = ServeProcess(sim, directory, safety, catalog)
    spans: list[tuple[float, float]] = []
    outcomes: list[str] = []
    try:
        daemon.start()
        for round_ in range(2):
            if round_ == 1:
                CORRUPTIONS[corruption](index)
                time.sleep(1.5)  # past the 200 ms reload interval
                sim.ready("shop", timeout=20)
            started = now()
            run_id = daemon.trigger("victim")
            if run_id is not None:
                run = daemon.wait_done(run_id)
                outcomes.append(f"{run['outcome']}/{run.get('reason')}")
            else:
                outcomes.append("declined")
            spans.append((started, now()))
        disruptions = sim.timeline()
    finally:
        daemon.stop()
        stop_sim(sim)
        shutil.rmtree(directory, ignore_errors=True)
    limits_ = effective_limits(safety, blast)
    broken = []
    for index_, (start, end) in enumerate(spans):
        one = Observed([d for d in disruptions if start <= d["requested_at"] <= end], {})
        broken += [f"run {index_ + 1}: {v}" for v in violations(one, limits_)]
    assert not broken, "\n".join(
        [
            *broken,
            f"catalog.yaml {corruption} before run 2; index limits {blast}; kill fixed {value}",
            f"outcomes: {outcomes}",
            f"pods disrupted (ground truth): {_short(Observed(disruptions, {}))}",
        ]
    )
