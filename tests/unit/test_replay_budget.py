"""An interrupted run's rollbacks replay under that run's own limits and ledger."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from daemon.catalog.extension import AftershockExtension, AftershockSettings
from daemon.engine.budget import MemoryRecorder, RunBudget
from daemon.engine.errors import Unrecorded
from daemon.safety.budget import ScaleBase
from daemon.store.replay import replay_budget, run_limits, seeded_ledger

NOW = datetime(2026, 11, 30, tzinfo=UTC)
WEB = ("shop", "Deployment", "web")
API = ("shop", "Deployment", "api")


def row(state: str, uid: str) -> dict:
    return {
        "namespace": "shop",
        "kind": "Deployment",
        "workload": "web",
        "at": NOW.timestamp(),
        "state": state,
        "uid": uid,
    }


def test_the_ledger_holds_what_the_run_disrupted_before_the_crash() -> None:
    ledger = seeded_ledger([row("done", "a"), row("uncertain", "b"), row("failed", "c")])
    assert (ledger.total, ledger.spent(WEB), ledger.uids) == (2, 2, {"a", "b"})


def test_recorded_settings_round_trip_from_an_extension() -> None:
    extension = AftershockExtension.model_validate(
        {"name": "aftershock", "blast_radius": {"max_pods": 1, "cooldown": "2d"}}
    )
    recorded = extension.model_dump(mode="json", include=set(AftershockSettings.model_fields))
    settings, problem = run_limits(recorded, {})
    assert problem == ""
    assert settings is not None
    assert settings.blast_radius.max_pods == 1


def test_an_older_row_falls_back_to_the_document_extension() -> None:
    document = {"extensions": [{"name": "aftershock", "blast_radius": {"max_pods": 2}}]}
    settings, problem = run_limits(None, document)
    assert settings is not None
    assert (settings.blast_radius.max_pods, problem) == (2, "")


@pytest.mark.parametrize(
    ("recorded", "spent"),
    [(None, []), ({"blast_radius": {"max_pods": "lots"}}, []), ({}, None)],
    ids=["limits_not_recorded", "limits_unreadable", "intents_unreadable"],
)
def test_unknown_limits_refuse_every_disruption(recorded, spent) -> None:
    budget, _, problem = replay_budget(
        MemoryRecorder(), threading.RLock(), recorded, {"title": "t"}, spent
    )
    assert problem
    with pytest.raises(Unrecorded, match="not replayed"):
        budget.intent("r1", WEB, pod="web-a", uid="a", method="delete", now=NOW)
    assert budget.ledger.total == 0


def test_known_limits_spend_from_the_seeded_ledger() -> None:
    budget, settings, problem = replay_budget(
        MemoryRecorder(),
        threading.RLock(),
        {"blast_radius": {"max_pods": 1}},
        {},
        [row("done", "a")],
    )
    assert (problem, settings.blast_radius.max_pods, budget.ledger.total) == ("", 1, 1)
    budget.intent("r1", WEB, pod="web-b", uid="b", method="delete", now=NOW)
    assert budget.ledger.total == 2


def test_the_replay_keeps_the_runs_scale_up_bound() -> None:
    """A replay's scale-up bound comes from the replicas the run first read (recorded at that
    read), never from replicas found later; what a landed scale left from, when recorded."""
    bases = {WEB: ScaleBase(first_seen=3, scaled_from=2), API: ScaleBase(5, None)}
    budget, _, problem = replay_budget(MemoryRecorder(), threading.RLock(), {}, {}, [], bases=bases)
    assert problem == ""
    assert budget.ledger.first_seen == {WEB: 3, API: 5}
    assert budget.ledger.scaled_from == {WEB: 2}
    budget.first_read("r1", WEB, 20)  # already read by the run: nothing written, 3 stays
    assert (budget.recorder.bases, budget.ledger.first_seen[WEB]) == ({}, 3)  # type: ignore[attr-defined]


def test_a_replay_that_cannot_judge_scales_no_deployment_the_run_did_not_read() -> None:
    budget, _, problem = replay_budget(
        MemoryRecorder(),
        threading.RLock(),
        None,
        {"title": "t"},
        [],
        bases={WEB: ScaleBase(3, None)},
    )
    assert problem
    budget.first_read("r1", WEB, 3)  # read by the run before the crash: fine
    with pytest.raises(Unrecorded, match="not replayed"):
        budget.first_read("r1", API, 3)


def test_the_first_read_is_written_before_anything_and_a_landed_scale_after() -> None:
    recorder = MemoryRecorder()
    budget = RunBudget(recorder)
    budget.first_read("r1", WEB, 3)
    budget.first_read("r1", WEB, 20)  # a later read (an HPA's 20) changes nothing
    assert recorder.bases == {("r1", WEB): ScaleBase(first_seen=3, scaled_from=None)}
    assert budget.scaled("r1", WEB, 4) == ""  # landed from 4 (someone scaled it meanwhile)
    assert budget.scaled("r1", WEB, 7) == ""  # the first landed scale stays
    assert recorder.bases == {("r1", WEB): ScaleBase(first_seen=3, scaled_from=4)}
    assert (budget.ledger.first_seen, budget.ledger.scaled_from) == ({WEB: 3}, {WEB: 4})

    class Broken(MemoryRecorder):
        def record_scale_base(self, run_id, workload, base) -> None:
            raise OSError("disk full")

    broken = RunBudget(Broken())
    with pytest.raises(Unrecorded, match="disk full"):
        broken.first_read("r1", WEB, 3)
    assert broken.ledger.first_seen == {}  # not judged on a read that was not recorded
    assert "disk full" in broken.scaled("r1", WEB, 3)
