"""A run skipped because the experiment's previous run is still going is aftershock's
decision: counted, reported in our words once, and APScheduler's own warning is not shown."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry

from daemon.observability.metrics import Metrics
from daemon.scheduling import events


@pytest.fixture
def debug_logging(monkeypatch) -> Iterator[None]:
    """DEBUG lines reach the capture whatever an earlier test in this worker configured
    (configure_logging filters by level and caches the module's logger on first use)."""
    saved = structlog.get_config()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    monkeypatch.setattr(events, "log", structlog.get_logger("aftershock.scheduler"))
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("debug_logging")
def test_a_skip_while_the_previous_run_goes_on_is_counted_and_told_once(caplog) -> None:
    metrics = Metrics(CollectorRegistry(), lambda: None)  # type: ignore[arg-type,return-value]
    scheduler = BackgroundScheduler(job_defaults={"max_instances": 1, "coalesce": True})
    reported = events.install(scheduler, metrics)
    told: list[tuple[str, str]] = []
    reported.subscribe(lambda experiment, reason: told.append((experiment, reason)))
    release = threading.Event()
    scheduler.add_job(release.wait, "interval", seconds=0.2, id="slow", args=[10])
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        scheduler.start()
        try:
            deadline = time.monotonic() + 10
            while len(told) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            release.set()
            scheduler.shutdown(wait=True)
    assert len(told) >= 3
    assert set(told) == {("slow", events.ALREADY_RUNNING)}
    refusals = metrics.guard_refusals.labels("slow", events.ALREADY_RUNNING)._value.get()
    assert refusals >= len(told)
    library = [r for r in caplog.records if r.name.startswith("apscheduler")]
    assert not [r for r in library if "skipped" in r.getMessage()]
    ours = [e for e in logs if "previous run is still going" in e["event"]]
    assert [e["log_level"] for e in ours][:2] == ["info", "debug"]
    assert ours[0]["experiment"] == "slow"


def test_install_twice_keeps_one_filter() -> None:
    metrics = Metrics(CollectorRegistry(), lambda: None)  # type: ignore[arg-type,return-value]
    events.install(BackgroundScheduler(), metrics)
    events.install(BackgroundScheduler(), metrics)
    for name in ("apscheduler.scheduler", "apscheduler.executors.default"):
        assert sum(type(f).__name__ == "_Replaced" for f in logging.getLogger(name).filters) == 1
