"""The documentation: the MkDocs site builds in strict mode, a broken link or anchor fails the
build, and the README (a front page outside the site) links only to files that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

MKDOCS = Path(sys.executable).with_name("mkdocs")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def site_copy(tmp_path: Path) -> Path:
    """What `mkdocs build` reads, copied, so the build writes nothing into the work tree."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("mkdocs.yml", "CHANGELOG.md"):
        shutil.copy2(REPO / name, copy / name)
    shutil.copytree(REPO / "docs", copy / "docs")
    return copy


def build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(MKDOCS.parent)},
    )


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    built = build(site_copy(tmp_path), tmp_path / "site")
    assert built.returncode == 0, built.stdout + built.stderr
    assert (tmp_path / "site" / "architecture" / "index.html").is_file()
    assert (tmp_path / "site" / "operations" / "alerts" / "index.html").is_file()


@pytest.mark.parametrize(
    ("link", "complaint"),
    [
        ("[gone](no-such-page.md)", "no-such-page.md"),
        ("[gone](safety.md#no-such-section)", "no-such-section"),
    ],
    ids=["missing-page", "missing-anchor"],
)
def test_a_broken_link_fails_the_build(tmp_path: Path, link: str, complaint: str) -> None:
    project = site_copy(tmp_path)
    index = project / "docs" / "index.md"
    index.write_text(index.read_text() + f"\n{link}\n")
    built = build(project, tmp_path / "site")
    assert built.returncode != 0, built.stdout + built.stderr
    assert complaint in built.stdout + built.stderr


def test_the_readme_keeps_its_commands_and_links_to_existing_files() -> None:
    readme = (REPO / "README.md").read_text()
    # The two set-up commands, exactly (.ci/run and the docs point at them).
    assert (
        "./scripts/demo   # install into .venv and run aftershock on the built-in demo catalog"
        in readme
    )
    assert (
        "./scripts/test   # install everything and run the whole test suite (what CI runs)"
        in readme
    )
    targets = [t for t in LINK.findall(readme) if "://" not in t]
    assert targets, "the README links to the docs"
    for target in targets:
        path = target.split("#", 1)[0]
        assert (REPO / path).is_file(), f"README links to {target}, which does not exist"
    every_page = {str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md")}
    linked = {t.split("#", 1)[0] for t in targets}
    reference = {p for p in every_page if p.startswith(("docs/reference/", "docs/operations/"))}
    assert reference <= linked, f"reference pages the README does not link: {reference - linked}"


def test_the_provider_page_has_the_generated_table_markers() -> None:
    page = (REPO / "docs" / "reference" / "providers.md").read_text()
    begin, end = page.index("<!-- providers:begin -->"), page.index("<!-- providers:end -->")
    assert begin < end
    assert "aftershock.pods.kill" in page[begin:end]
