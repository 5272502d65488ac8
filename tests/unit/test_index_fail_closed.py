"""Issue 12, finding 5 (I7): a catalog.yaml that cannot be read never means looser limits.

Every file the index might govern fails to load, with a problem naming the index; the
daemon then keeps the last good version (stale) or schedules nothing (see the integration
test in tests/integration/test_daemon_index.py).
"""

from __future__ import annotations

import json

import pytest

from daemon.catalog.loader import load_catalog

PLAIN = {
    "title": "plain Chaos Toolkit file",
    "description": "governed by catalog.yaml",
    "method": [
        {
            "type": "action",
            "name": "kill",
            "provider": {
                "type": "python",
                "module": "aftershock.pods",
                "func": "kill",
                "arguments": {"ns": "shop", "mode": "fixed", "value": 2},
            },
        }
    ],
}
GOOD_INDEX = "experiments:\n  - file: plain.json\n    blast_radius: {max_pods: 1}\n"


@pytest.fixture
def catalog(tmp_path):
    (tmp_path / "plain.json").write_text(json.dumps(PLAIN))
    return tmp_path


def test_a_good_index_governs_its_file(catalog, options) -> None:
    (catalog / "catalog.yaml").write_text(GOOD_INDEX)
    report = load_catalog([catalog], options)
    (loaded,) = report.experiments
    assert loaded.settings_source == "catalog.yaml"
    assert loaded.settings.blast_radius.max_pods == 1


@pytest.mark.parametrize(
    "broken",
    [
        "experiments:\n  - file: plain.json\n    blast_radius: {max_pods: 1\n",  # YAML error
        b"\x00\x01binary",  # not text
        "- just a list\n",  # not a mapping
        "experiments: 5\n",  # not a list
        "experiments:\n  - {blast_radius: {max_pods: 1}}\n",  # an entry without a file
        "experiments:\n  - file: ./plain.json\n    blast_radius: {max_pods: 1}\n",  # a path
        "experiments:\n  - file: [plain.json]\n",  # file is not a name
    ],
)
def test_an_unreadable_index_fails_closed(catalog, options, broken) -> None:
    index = catalog / "catalog.yaml"
    if isinstance(broken, bytes):
        index.write_bytes(broken)
    else:
        index.write_text(broken)
    report = load_catalog([catalog], options)
    assert report.experiments == []  # never loaded with the (looser) global limits
    (result,) = report.files
    assert not result.ok
    assert any("catalog.yaml cannot be read in full" in p.message for p in result.problems)
    assert report.index is not None
    assert report.index.problems


def test_an_invalid_entry_for_another_file_does_not_block_a_listed_one(catalog, options) -> None:
    (catalog / "other.json").write_text(json.dumps(PLAIN))
    (catalog / "catalog.yaml").write_text(
        GOOD_INDEX + "  - file: other.json\n    blast_radius: {max_pod: 1}\n"
    )
    report = load_catalog([catalog], options)
    assert [e.id for e in report.experiments] == ["plain"]
    other = next(f for f in report.files if f.experiment_id == "other")
    assert any("its entry in catalog.yaml is invalid" in p.message for p in other.problems)


# Hostile review F7: any error in catalog.yaml means the index cannot be trusted, so every
# file without a valid entry fails; a dangling `b.yaml` (a typo for b.json) once let b.json
# run with the looser global limits ("2 loaded, 0 invalid").
ENTRY_ERRORS = {
    "dangling (typo for b.json)": "  - file: b.yaml\n    blast_radius: {max_pods: 1}\n",
    "duplicate": (
        "  - file: a.json\n    blast_radius: {max_pods: 1}\n"
        "  - file: a.json\n    blast_radius: {max_pods: 1}\n"
    ),
    "invalid limits": "  - file: a.json\n    blast_radius: {max_pods: -1}\n",
    "unknown key in an entry": "  - file: a.json\n    blast_radius: {max_pod: 1}\n",
    "a path": "  - file: ./b.json\n    blast_radius: {max_pods: 1}\n",
}


@pytest.mark.parametrize("entries", ENTRY_ERRORS.values(), ids=list(ENTRY_ERRORS))
def test_any_index_error_fails_every_file_without_a_valid_entry(tmp_path, options, entries):
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(PLAIN))
    (tmp_path / "catalog.yaml").write_text("experiments:\n" + entries)
    report = load_catalog([tmp_path], options)
    assert report.experiments == []
    assert not report.ok
    assert all(not f.ok and f.loaded is None for f in report.files)
    b = next(f for f in report.files if f.path.name == "b.json")
    assert any("catalog.yaml cannot be read in full" in p.message for p in b.problems)


def test_an_unknown_top_level_key_fails_files_without_an_entry(catalog, options) -> None:
    (catalog / "other.json").write_text(json.dumps(PLAIN))
    (catalog / "catalog.yaml").write_text(GOOD_INDEX + "defaults: {max_pods: 1}\n")
    report = load_catalog([catalog], options)
    # plain.json's own entry is valid and still governs it; other.json is unknown.
    assert [e.id for e in report.experiments] == ["plain"]
    assert report.experiments[0].settings.blast_radius.max_pods == 1
    other = next(f for f in report.files if f.experiment_id == "other")
    assert not other.ok


def test_validate_reports_the_typo_d_file_invalid(tmp_path, monkeypatch) -> None:
    """The reviewer's reproduction, through the CLI: nothing is OK, the exit code fails."""
    from click.testing import CliRunner

    from daemon.cli import cli

    monkeypatch.delenv("AFTERSHOCK_CONFIG", raising=False)
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(PLAIN))
    (tmp_path / "catalog.yaml").write_text(
        "experiments: [{file: b.yaml, blast_radius: {max_pods: 1}}]\n"
    )
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code != 0
    assert f"OK {tmp_path / 'b.json'}" not in result.output
    assert "0 experiment(s) loaded, 2 invalid" in result.output, result.output
