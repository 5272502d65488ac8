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
