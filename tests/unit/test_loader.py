"""Catalog directories: index, ids, duplicates, isolation of bad files, file-system oddities."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from daemon.catalog.loader import LoadOptions, load_catalog, slugify
from daemon.catalog.problems import Severity
from daemon.documents import ReadLimits
from tests.conftest import MINIMAL


def messages(items) -> list[str]:
    return [p.message for p in items]


def by_id(report):
    return {f.experiment_id: f for f in report.files}


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("greeter-kill.yaml", "greeter-kill"),
        ("Greeter Kill.YML", "greeter-kill"),
        ("kill_50%.json", "kill-50"),
        ("Expérience.yaml", "experience"),
        ("a..b.yaml", "a-b"),
        ("___.yaml", ""),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_demo_catalog_is_valid() -> None:
    from daemon.catalog.checks import GlobalLimits
    from tests.conftest import REPO

    report = load_catalog(
        [REPO / "config" / "experiments"],
        LoadOptions(globals=GlobalLimits(prometheus_url="http://p")),
    )
    assert report.ok, [(f.path, f.problems) for f in report.files if not f.ok]
    assert sorted(e.id for e in report.experiments) == [
        "ctk-webapp-pod-kill",
        "greeter-kill",
        "greeter-random-weekdays",
        "name-half-down",
        "webapp-errors-guarded",
    ]
    sources = {e.id: e.settings_source for e in report.experiments}
    assert sources["ctk-webapp-pod-kill"] == "catalog.yaml"
    assert sources["greeter-kill"] == "extension"
    assert {e.settings.schedule.mtbf is not None for e in report.experiments} == {True, False}
    assert any(e.settings.stop_conditions for e in report.experiments)
    assert any(
        getattr(a.provider, "module", None) == "chaosprometheus.probes"
        for e in report.experiments
        for a in (
            e.experiment.steady_state_hypothesis.probes
            if e.experiment.steady_state_hypothesis
            else []
        )
        if hasattr(a, "provider")
    )


def test_one_bad_file_does_not_stop_the_others(tmp_path, write, options, experiment) -> None:
    write("good.yaml", experiment)
    write("bad.yaml", "title: [unclosed\n")
    write("worse.json", b"\x00binary")
    report = load_catalog([tmp_path], options)
    assert not report.ok
    assert [e.id for e in report.experiments] == ["good"]
    files = by_id(report)
    assert files["bad"].problems[0].line == 2
    assert "binary" in files["worse"].problems[0].message


def test_hidden_files_and_other_suffixes_are_ignored(tmp_path, write, options, experiment) -> None:
    write("good.yaml", experiment)
    write(".hidden.yaml", "not: [valid")
    write("README.md", "# notes")
    (tmp_path / "..data").mkdir()  # ConfigMap mounts have such directories
    report = load_catalog([tmp_path], options)
    assert report.ok
    assert [f.experiment_id for f in report.files] == ["good"]


def test_empty_directory_is_an_error(tmp_path, options) -> None:
    report = load_catalog([tmp_path], options)
    assert not report.ok
    assert "no experiment files" in report.problems[0].message


def test_duplicate_ids_fail_both_files(tmp_path, write, options, experiment) -> None:
    write("kill-greeter.yaml", experiment)
    write("Kill_Greeter.json", experiment)
    report = load_catalog([tmp_path], options)
    assert report.experiments == []
    for result in report.files:
        assert any("is also the id of" in m for m in messages(result.problems))


def test_duplicate_ids_across_paths(tmp_path, write, options, experiment) -> None:
    a = write("x.yaml", experiment, tmp_path / "one")
    b = write("x.yaml", experiment, tmp_path / "two")
    report = load_catalog([a, b], options)
    assert not report.ok


def test_symlink_loop_inside_a_catalog(tmp_path, write, options, experiment) -> None:
    write("good.yaml", experiment)
    (tmp_path / "loop-a.yaml").symlink_to(tmp_path / "loop-b.yaml")
    (tmp_path / "loop-b.yaml").symlink_to(tmp_path / "loop-a.yaml")
    report = load_catalog([tmp_path], options)
    assert [e.id for e in report.experiments] == ["good"]
    assert "symbolic link loop" in by_id(report)["loop-a"].problems[0].message


def test_symlinked_files_are_followed(tmp_path, write, options, experiment) -> None:
    real = write("real.yaml", experiment, tmp_path / "..2026_01_01")
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "linked.yaml").symlink_to(real)
    assert [e.id for e in load_catalog([catalog], options).experiments] == ["linked"]


def test_size_limit_comes_from_options(tmp_path, write, experiment) -> None:
    write("exp.yaml", experiment)
    report = load_catalog([tmp_path], LoadOptions(limits=ReadLimits(max_bytes=100)))
    assert "over the limit of 100 bytes" in report.files[0].problems[0].message


def test_max_files(tmp_path, write, experiment) -> None:
    for i in range(5):
        write(f"e{i}.yaml", experiment)
    report = load_catalog([tmp_path], LoadOptions(max_files=3))
    assert len(report.files) == 3
    assert "over the limit of 3" in report.problems[0].message


def test_a_single_file_path(write, options, experiment) -> None:
    report = load_catalog([write("one.json", experiment)], options)
    assert report.ok
    assert report.experiments[0].id == "one"


def test_top_level_must_be_a_mapping(write, options) -> None:
    report = load_catalog([write("list.yaml", "- a\n- b\n")], options)
    assert (
        "an experiment is a mapping (title, method, ...), not a list"
        in report.files[0].problems[0].message
    )


def test_digest_changes_with_content(tmp_path, write, options, experiment) -> None:
    path = write("e.yaml", experiment)
    first = load_catalog([path], options).experiments[0].digest
    experiment["title"] = "changed"
    write("e.yaml", experiment)
    assert load_catalog([path], options).experiments[0].digest != first


# ------------------------------------------------------------------ catalog.yaml


def ctk(tmp_path, write) -> None:
    write("plain.json", copy.deepcopy(MINIMAL))


def test_index_attaches_settings(tmp_path, write, options) -> None:
    ctk(tmp_path, write)
    write(
        "catalog.yaml",
        {
            "experiments": [
                {
                    "file": "plain.json",
                    "schedule": {"interval": "1h"},
                    "blast_radius": {"max_pods": 1},
                }
            ]
        },
    )
    report = load_catalog([tmp_path], options)
    assert report.ok, report.index.problems
    loaded = report.experiments[0]
    assert loaded.settings_source == "catalog.yaml"
    assert loaded.settings.blast_radius.max_pods == 1
    assert loaded.raw == MINIMAL  # the file itself is untouched Chaos Toolkit


def test_index_and_extension_conflict(tmp_path, write, options, experiment) -> None:
    experiment["extensions"] = [{"name": "aftershock", "schedule": {"interval": "1h"}}]
    write("both.yaml", experiment)
    write("catalog.yaml", {"experiments": [{"file": "both.yaml", "schedule": {"interval": "2h"}}]})
    report = load_catalog([tmp_path], options)
    assert report.experiments == []
    assert "given both here and in catalog.yaml" in messages(report.files[0].problems)[0]


def test_bad_index_entry_fails_every_file_without_a_valid_entry(
    tmp_path, write, options, experiment
) -> None:
    """An index with an error is not trusted: other.yaml might be governed by it too."""
    ctk(tmp_path, write)
    write("other.yaml", experiment)
    write(
        "catalog.yaml",
        "experiments:\n  - file: plain.json\n    schedule: {interval: 1h, jiter: 5m}\n",
    )
    report = load_catalog([tmp_path], options)
    assert report.experiments == []
    assert "catalog.yaml cannot be read in full or has errors" in " ".join(
        messages(by_id(report)["other"].problems)
    )
    (problem,) = report.index.problems
    assert problem.message == "unknown key 'jiter'; did you mean 'jitter'?"
    assert (problem.line, problem.location) == (3, "experiments[0].schedule.jiter")
    assert "its entry in catalog.yaml is invalid" in messages(by_id(report)["plain"].problems)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        ({"experiments": [{"file": "missing.json"}]}, "no experiment file 'missing.json'"),
        (
            {"experiments": [{"file": "sub/plain.json"}]},
            "must be a file name in the catalog directory",
        ),
        ({"experiments": [{"file": "plain.json"}, {"file": "plain.json"}]}, "listed twice"),
        ({"experiments": [{"schedule": {}}]}, "'file' is required"),
        ({"experiment": []}, "unknown key 'experiment'"),
        ("- just a list\n", "must be a mapping with a list under 'experiments'"),
        ("experiments: [unclosed\n", "invalid YAML"),
    ],
)
def test_index_errors(tmp_path, write, options, index, expected) -> None:
    ctk(tmp_path, write)
    write("catalog.yaml", index)
    report = load_catalog([tmp_path], options)
    assert not report.ok
    assert any(expected in m for m in messages(report.index.problems)), report.index.problems


def test_passing_catalog_yaml_loads_its_directory(tmp_path, write, options) -> None:
    ctk(tmp_path, write)
    index = write(
        "catalog.yaml", {"experiments": [{"file": "plain.json", "schedule": {"cron": "@daily"}}]}
    )
    report = load_catalog([index], options)
    assert [e.id for e in report.experiments] == ["plain"]


def test_experiment_without_settings_is_loaded_unscheduled(tmp_path, write, options) -> None:
    ctk(tmp_path, write)
    report = load_catalog([tmp_path], options)
    assert report.ok
    assert report.experiments[0].settings.schedule is None
    assert any(
        p.severity is Severity.WARNING and "no schedule" in p.message
        for p in report.files[0].problems
    )


def test_json_validation_errors_have_lines(write, options, experiment) -> None:
    experiment["method"][0]["provider"]["arguments"]["qty"] = "one"
    path = write("e.json", experiment)
    report = load_catalog([path], options)
    (problem,) = [p for p in report.files[0].problems if p.severity is Severity.ERROR]
    text = path.read_text().splitlines()
    assert '"qty"' in text[problem.line - 1]


def test_report_json_shape_is_stable(tmp_path, write, options, experiment) -> None:
    from daemon.cli import report_as_json

    write("good.yaml", experiment)
    write("bad.yaml", "title: x\n")
    data = report_as_json(load_catalog([tmp_path], options))
    json.dumps(data)
    assert data["ok"] is False
    assert (data["loaded"], data["invalid"]) == (1, 1)
    bad = next(e for e in data["experiments"] if e["id"] == "bad")
    assert bad["errors"][0] == {
        "severity": "error",
        "message": "'method' is required",
        "location": "method",
        "line": 1,
        "column": 1,
    }


def test_unreadable_directory_is_reported(tmp_path, options) -> None:
    report = load_catalog([Path(tmp_path / "nope")], options)
    assert not report.ok
