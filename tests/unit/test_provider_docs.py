"""The provider reference page holds exactly the table the registry renders (issue 13, item 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.catalog import provider_docs, providers

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "providers.md"


def test_the_reference_page_holds_the_registry_table() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert text.count(provider_docs.PROVIDERS_BEGIN) == 1
    assert text.count(provider_docs.PROVIDERS_END) == 1
    assert provider_docs.table_in(text) == provider_docs.render_provider_table(), (
        "docs/reference/providers.md is stale: run `python -m daemon.catalog.provider_docs`"
    )


def test_every_provider_has_one_row() -> None:
    rows = provider_docs.render_provider_table().splitlines()[2:]
    assert [row.split(" | ")[0].removeprefix("| ").split(" ")[0] for row in rows] == [
        f"`{spec.name}`" for spec in providers.registry()
    ]


def test_script_mode_rewrites_only_between_the_markers(tmp_path: Path) -> None:
    page = tmp_path / "providers.md"
    page.write_text(
        f"# P\n\nbefore\n{provider_docs.PROVIDERS_BEGIN}\nold\n{provider_docs.PROVIDERS_END}\nafter\n"
    )
    assert provider_docs.main([str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# P\n\nbefore\n")
    assert text.endswith(f"{provider_docs.PROVIDERS_END}\nafter\n")
    assert provider_docs.table_in(text) == provider_docs.render_provider_table()
    assert provider_docs.main([str(page)]) == 0
    assert page.read_text() == text  # idempotent


def test_script_mode_names_a_page_without_markers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "providers.md"
    page.write_text("# P\n")
    assert provider_docs.main([str(page)]) == 1
    assert "markers" in capsys.readouterr().err
    assert page.read_text() == "# P\n"
