"""The status, experiment and run pages on the demo's own data, in headless Chromium:
screenshots are not blank, key elements are in the DOM, the timeline follows the journal,
the keyboard reaches the links, and the demo's replaced schedules are said to be replaced."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.integration.cdp import Browser
from tests.integration.conftest import wait_for
from tests.integration.test_status_page_browser import browser, png_summary

AFTERSHOCK = Path(sys.executable).parent / "aftershock"


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    """`aftershock demo` until it has passed and deviated runs; yields its base URL."""
    process = subprocess.Popen(
        [
            str(AFTERSHOCK),
            "--log-level",
            "WARNING",
            "demo",
            "--duration",
            "240",
            "--port",
            "0",
            "--interval",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(
        target=lambda: lines.extend(iter(process.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            text = "".join(lines)
            if "greeter-kill: deviated" in text and ": passed" in text:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the demo did not show passed and deviated runs: {lines}")
        url = next(line.split()[-1] for line in lines if line.startswith("status page:"))
        url = url.rstrip("/")

        def outcomes(**params: str) -> set[str]:
            runs = httpx.get(f"{url}/api/v1/runs", params=params, timeout=10).json()["runs"]
            return {r["outcome"] for r in runs}

        # The lines come from the printer listener, the history rows from another worker:
        # the tests read the history, so wait until it holds the runs the lines showed.
        wait_for(
            lambda: "deviated" in outcomes(experiment="greeter-kill") and "passed" in outcomes(),
            30,
            "the passed and deviated runs in the history",
        )
        yield url
    finally:
        process.kill()
        process.wait(timeout=30)


def dom(url: str) -> str:
    done = browser("--dump-dom", url)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(url: str, path: Path, height: int = 900) -> None:
    taken = browser(f"--window-size=1280,{height}", f"--screenshot={path}", url)
    assert taken.returncode == 0, taken.stderr[-2000:]
    width, tall, distinct = png_summary(path)
    assert (width, tall) == (1280, height)
    assert distinct > 20, f"{url}: the screenshot is (nearly) blank"


def test_api_says_the_demo_schedules_are_overridden(demo: str) -> None:
    listed = httpx.get(f"{demo}/api/v1/experiments", timeout=10).json()["experiments"]
    scheduled = [e for e in listed if e["catalog_schedule"]]
    assert scheduled
    for e in scheduled:
        assert e["schedule_overridden"] is True, e
        assert e["schedule"].startswith("every "), e  # the demo's accelerated interval
        assert e["schedule"] != e["catalog_schedule"]
    one = httpx.get(f"{demo}/api/v1/experiments/greeter-kill", params={"hours": 1}).json()
    assert one["schedule_overridden"] is True
    fires = [datetime.fromisoformat(t) for t in one["upcoming"]]
    assert len(fires) > 10  # seconds apart, not the catalog's quarter hours in working time
    assert max((b - a).total_seconds() for a, b in itertools.pairwise(fires)) < 30


def test_status_page(demo: str, tmp_path: Path) -> None:
    page = dom(f"{demo}/")
    assert page.count('<section class="card experiment"') == 5
    assert "overridden; the catalog says" in page
    cells = re.findall(r'<a class="cell" href="(/runs/[^"]+)" title="([^"]+)" aria-label="', page)
    assert cells
    assert all(title.split(",")[0].split(" (")[0] in WORDS for _, title in cells)
    assert 'class="spark"' in page
    assert "Next fires" in page
    assert "passed (" in page
    assert 'role="search"' in page
    screenshot(f"{demo}/", tmp_path / "status.png")
    filtered = dom(f"{demo}/?tag=greeter")
    assert "showing" in filtered
    assert filtered.count('<section class="card experiment"') < 5


WORDS = {"passed", "deviated", "not steady before", "refused", "failed", "aborted", "running"}


def test_experiment_page(demo: str, tmp_path: Path) -> None:
    page = dom(f"{demo}/experiments/greeter-kill")
    for part in ("Schedule preview", "Limits in force", "In force (the stricter)", "History"):
        assert part in page
    assert "greeter-kill.yaml" in page
    assert "overridden; the catalog says" in page
    assert re.search(r'<a href="/runs/greeter-kill-[^"]+">', page)
    screenshot(f"{demo}/experiments/greeter-kill", tmp_path / "experiment.png")
    assert httpx.get(f"{demo}/experiments/nope", timeout=10).status_code == 404


def test_run_page_timeline_follows_the_journal(demo: str, tmp_path: Path) -> None:
    runs = httpx.get(f"{demo}/api/v1/runs", params={"experiment": "greeter-kill"}).json()["runs"]
    deviated = next(r for r in runs if r["outcome"] == "deviated")
    run = httpx.get(f"{demo}/api/v1/runs/{deviated['id']}", timeout=10).json()
    journal = run["journal"]
    page = dom(f"{demo}/runs/{run['id']}")
    for part in ("Timeline", "Activities", "Guard decisions", "Show the journal", "UTC"):
        assert part in page
    assert "Kept 1 of" in page
    drawn = [
        (kind, float(start))
        for kind, start in re.findall(
            r'<g class="row" data-kind="(\w+)" data-start="([-\d.]+)"', page
        )
    ]
    # Everything the journal recorded, in its time order, measured from the journal's start.
    origin = datetime.fromisoformat(journal["start"]).timestamp()
    states = journal["steady_states"]
    records = states["before"]["probes"] + (states["after"] or {}).get("probes", [])
    records += [p for s in states.get("during") or [] for p in s["probes"]]
    records += journal["run"] + journal["rollbacks"]
    expected = sorted(datetime.fromisoformat(r["start"]).timestamp() - origin for r in records)
    expected += [d["at"] - origin for d in journal["aftershock"]["disrupted"]]
    assert [s for _, s in drawn] == sorted(s for _, s in drawn)
    starts = sorted(s for k, s in drawn if k in ("probe", "action", "rollback", "disruption"))
    assert starts == pytest.approx(sorted(expected), abs=1e-5)
    kinds = [k for k, _ in drawn]
    assert kinds.index("disruption") < kinds.index("ready")
    screenshot(f"{demo}/runs/{run['id']}", tmp_path / "run.png", height=1400)
    download = httpx.get(f"{demo}/api/v1/runs/{run['id']}/journal", timeout=10)
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.json() == journal


def test_keyboard_reaches_the_links(demo: str, tmp_path: Path) -> None:
    """Tab from the top of the status page: the filter, an experiment, a run cell."""
    chrome = Browser(tmp_path / "profile")
    try:
        chrome.open(f"{demo}/")
        reached = []
        for _ in range(60):
            chrome.tab()
            reached.append(chrome.focused())
        assert any(r.startswith("select tag") for r in reached), reached
        assert any(r.startswith("a /experiments/") for r in reached), reached
        assert any(r.startswith("a /runs/") for r in reached), reached
        # A visible focus ring (3 px outline) on a focused link.
        outline = chrome.evaluate("getComputedStyle(document.activeElement).outlineWidth")
        assert outline == "3px", outline
    finally:
        chrome.close()
