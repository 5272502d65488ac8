"""Issue 12, finding 11 (I11): settings that weaken safety are explicit, never silent.

Protected namespaces are DNS labels; dropping a default one needs
`safety.allow_unprotected_defaults: true` and is then warned about at start-up. Looser
experiment values and near-miss extension names draw a warning or an error.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from daemon.catalog.loader import load_file
from daemon.observability.metrics import Metrics
from daemon.service import Daemon
from daemon.settings import DEFAULT_PROTECTED, SettingsLoadError, load_settings, weakened_safety
from daemon.store.history import HistoryStore

VARIABLE = "AFTERSHOCK_SAFETY__PROTECTED_NAMESPACES"
ACK = "AFTERSHOCK_SAFETY__ALLOW_UNPROTECTED_DEFAULTS"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("AFTERSHOCK_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("value", ["Kube-System", "kube_system", "-kube", "a" * 64, "kube system"])
def test_protected_namespaces_must_be_namespace_names(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(VARIABLE, f"kube-system,kube-public,kube-node-lease,{value}")
    with pytest.raises(SettingsLoadError) as caught:
        load_settings()
    (line,) = caught.value.lines
    assert line.startswith(f"{VARIABLE}=")
    assert repr(value) in line
    assert "is not a namespace name" in line


@pytest.mark.parametrize("value", ["", "kube-system", "prod", "Kube-System"])
def test_dropping_a_default_needs_an_acknowledgement(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(VARIABLE, value)
    with pytest.raises(SettingsLoadError) as caught:
        load_settings()
    assert VARIABLE in caught.value.lines[0]


def test_the_acknowledgement_is_warned_about_at_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(VARIABLE, "")
    monkeypatch.setenv(ACK, "true")
    settings = load_settings()
    assert settings.safety.protected_namespaces == []
    warnings = weakened_safety(settings)
    assert any("kube-system, kube-public, kube-node-lease unprotected" in w for w in warnings)

    settings = settings.model_copy(
        update={"leader": settings.leader.model_copy(update={"enabled": False})}
    )
    daemon = Daemon(
        settings,
        kube=None,
        store=HistoryStore(
            tmp_path / "history.db", retention=timedelta(days=1), max_runs_per_experiment=10
        ).open(),
        metrics_factory=lambda snapshot: Metrics(CollectorRegistry(), snapshot),
        catalog_path=tmp_path,
    )
    with capture_logs() as logs:
        daemon.start()
        daemon.stop()
    weakened = [e for e in logs if e["event"] == "safety weakened"]
    assert any("kube-system" in e["setting"] for e in weakened), logs
    assert all(e["log_level"] == "warning" for e in weakened)


def test_keeping_every_default_and_adding_more_needs_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(VARIABLE, ",".join([*DEFAULT_PROTECTED, "shop-prod"]))
    settings = load_settings()
    assert settings.safety.protected_namespaces == [*DEFAULT_PROTECTED, "shop-prod"]
    assert weakened_safety(settings) == []


def test_safe_defaults_warn_about_nothing() -> None:
    assert weakened_safety(load_settings()) == []


@pytest.mark.parametrize("name", ["Aftershock", "AFTERSHOCK", "after-shock", "aftershok"])
def test_a_near_miss_extension_name_is_an_error(write, options, experiment, name) -> None:
    experiment["extensions"] = [{"name": name, "blast_radius": {"max_pods": 1}}]
    result = load_file(write("exp.yaml", experiment), options)
    assert not result.ok
    assert any(
        p.path == ("extensions", 0, "name") and repr(name) in p.message for p in result.problems
    )


def test_aftershock_keys_under_another_extension_are_warned_about(
    write, options, experiment
) -> None:
    experiment["extensions"] = [{"name": "chaosiq", "schedule": {"interval": "1h"}}]
    result = load_file(write("exp.yaml", experiment), options)
    assert result.ok
    assert any(p.code == "extension_name" for p in result.problems)


@pytest.mark.parametrize(
    ("radius", "fragment"),
    [
        ({"max_pods": 50}, "max_pods 50 is above the global limit 10"),
        ({"min_ready_replicas": 0}, "min_ready_replicas 0 is below the global floor 1"),
        ({"cooldown": "1m"}, "cooldown 1m is shorter than the global 10m"),
        ({"max_disruptions_per_day": 1000}, "max_disruptions_per_day 1000 is above"),
        ({"on_limit": "cap"}, "on_limit cap is looser than the global refuse"),
        ({"respect_pdb": False}, "respect_pdb false cannot lift"),
        ({"require_workload_ready": False}, "require_workload_ready false cannot lift"),
    ],
)
def test_looser_values_draw_a_warning_that_the_global_limit_applies(
    write, experiment, radius, fragment
) -> None:
    from daemon.catalog.loader import LoadOptions

    experiment["extensions"] = [{"name": "aftershock", "blast_radius": radius}]
    result = load_file(write("exp.yaml", experiment), LoadOptions.from_settings(load_settings()))
    assert result.ok
    found = [p for p in result.problems if p.code == "looser_than_global"]
    assert any(fragment in p.message and "the global limit applies" in p.message for p in found)
    assert all(p.line is not None for p in found)


def test_dry_run_false_cannot_lift_the_global_dry_run(write, experiment) -> None:
    from daemon.catalog.loader import LoadOptions

    experiment["extensions"] = [{"name": "aftershock", "dry_run": False}]
    result = load_file(write("exp.yaml", experiment), LoadOptions.from_settings(load_settings()))
    assert any("cannot lift the global dry-run" in p.message for p in result.problems)


def test_node_drills_are_never_enabled_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERSHOCK_NODES__ENABLED", "true")
    assert weakened_safety(load_settings()) == [
        "nodes.enabled is true: node drills may cordon and drain up to 1 node(s) at once "
        "(safe default: False)"
    ]
    monkeypatch.setenv("AFTERSHOCK_NODES__ALLOW_PROTECTED_NAMESPACES", "true")
    monkeypatch.setenv("AFTERSHOCK_NODES__MIN_SCHEDULABLE_NODES", "0%")
    warnings = weakened_safety(load_settings())
    assert any("evict pods of protected namespaces" in w for w in warnings)
    assert any("leave no schedulable node" in w for w in warnings)
