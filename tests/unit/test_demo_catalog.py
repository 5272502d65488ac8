"""The demo's clock: every catalog duration divided by the same SPEEDUP (PromQL ranges
floored at a few scrapes), and the rescaled catalog still loads cleanly."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from daemon.catalog.loader import LoadOptions, load_catalog
from daemon.demo.catalog import MIN_RANGE, SPEEDUP, copy_catalog, promql, scaled
from daemon.demo.run import CATALOG
from daemon.durations import parse_duration
from daemon.settings import Settings

PROM = "http://127.0.0.1:9999"


@given(st.integers(min_value=0, max_value=7 * 86400))
def test_scaled_divides_by_the_speedup_with_its_floor(seconds: int) -> None:
    value = parse_duration(scaled(f"{seconds}s", MIN_RANGE)).total_seconds()
    assert abs(value - max(MIN_RANGE.total_seconds(), seconds / SPEEDUP)) < 0.001


@given(st.text(alphabet='abc(){}=~" ,.>0123456789'))
def test_promql_without_a_range_is_unchanged(query: str) -> None:
    assert promql(query) == query


def test_promql_ranges_are_scaled_never_below_a_few_scrapes() -> None:
    assert promql("rate(x[1m]) / rate(y[30m]) > 0.05") == "rate(x[5s]) / rate(y[30s]) > 0.05"


def test_the_rescaled_demo_catalog_loads_with_its_durations_scaled(tmp_path: Path) -> None:
    target = copy_catalog(CATALOG, tmp_path / "catalog", PROM)
    settings = Settings().model_copy(
        update={"prometheus": Settings().prometheus.model_copy(update={"url": PROM})}
    )
    report = load_catalog([target], LoadOptions.from_settings(settings))
    assert report.ok, [p for f in report.files for p in f.problems]
    loaded = {e.id: e for e in report.experiments}
    assert len(loaded) == len(
        load_catalog([CATALOG], LoadOptions.from_settings(settings)).experiments
    )
    random = loaded["greeter-random-weekdays"]
    assert random.raw["method"][0]["provider"]["arguments"]["min_age"] == "2s"
    assert random.settings.blast_radius.cooldown == timedelta(seconds=30)
    assert loaded["name-half-down"].settings.blast_radius.cooldown == timedelta(minutes=1)
    guarded = loaded["webapp-errors-guarded"]
    assert all(
        "[1m]" not in c.query and "[5s]" in c.query for c in guarded.settings.stop_conditions[:1]
    )
    assert guarded.raw["configuration"]["prometheus_base_url"] == PROM
    probe = guarded.raw["steady-state-hypothesis"]["probes"][0]
    assert "[5s]" in probe["provider"]["arguments"]["query"]
