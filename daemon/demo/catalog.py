"""The demo's time scale: one demo second stands for one minute of the catalog's time.

The catalog under config/experiments is written for a real cluster (runs hours apart, pods
that must be two minutes old, cooldowns of half an hour, PromQL over the last minute). The
demo copies it into its state directory with every such duration divided by SPEEDUP, so
each experiment can show its point within the demo:

- schedules become an interval of ~`interval` seconds (windows and blackouts dropped, as
  they would keep most runs out of a two-minute demo): `accelerate`;
- `min_age` arguments and `blast_radius.cooldown` are divided by SPEEDUP;
- PromQL range selectors (`[1m]`) are divided too, but never below MIN_RANGE: a rate needs
  several scrapes, and the demo's Prometheus scrapes every second;
- `prometheus_base_url` points at the demo's own Prometheus.

Everything else (blast radius, recovery timeouts and SLOs, probes, pauses) is unchanged.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from daemon.catalog.extension import Schedule
from daemon.durations import format_duration, parse_duration

SPEEDUP = 60.0
MIN_RANGE = timedelta(seconds=5)  # five scrapes of the demo's Prometheus
_RANGE = re.compile(r"\[(\d+(?:ms|[smhdwy]))\]")


# The first round tells the story in this order (others follow): the random greeter kill
# before the greeter's cooldown starts, and the guarded kill after a run that leaves the
# error rate at zero, so its own kill is what raises it.
STORY = (
    "greeter-random-weekdays",
    "greeter-kill",
    "name-half-down",
    "webapp-errors-guarded",
    "ctk-webapp-pod-kill",
)


def accelerate(interval: float) -> Callable[[str, Schedule], Schedule]:
    """Every schedule becomes `interval` s (+ a per-experiment offset), no windows."""
    offsets: dict[str, float] = {}

    def override(experiment_id: str, schedule: Schedule) -> Schedule:
        rank = STORY.index(experiment_id) if experiment_id in STORY else len(STORY) + len(offsets)
        offset = offsets.setdefault(experiment_id, 1.5 * rank)
        return Schedule.model_validate(
            {"interval": f"{interval + offset:.1f}s", "jitter": "1s", "timezone": schedule.timezone}
        )

    return override


def scaled(value: Any, floor: timedelta = timedelta(0)) -> str:
    """A duration divided by SPEEDUP, spelled as a duration."""
    seconds = parse_duration(value).total_seconds() / SPEEDUP
    return format_duration(max(floor, timedelta(seconds=round(seconds, 3))))


def promql(query: str) -> str:
    return _RANGE.sub(lambda m: f"[{scaled(m.group(1), MIN_RANGE)}]", query)


def _blast_radius(settings: dict[str, Any]) -> None:
    radius = settings.get("blast_radius")
    if isinstance(radius, dict) and radius.get("cooldown") is not None:
        radius["cooldown"] = scaled(radius["cooldown"])


def _stop_conditions(settings: dict[str, Any]) -> None:
    conditions = settings.get("stop_conditions")
    if not isinstance(conditions, list):
        return
    for i, condition in enumerate(conditions):
        if isinstance(condition, str):
            conditions[i] = promql(condition)
        elif isinstance(condition, dict) and isinstance(condition.get("query"), str):
            condition["query"] = promql(condition["query"])


def _activities(experiment: dict[str, Any]) -> list[dict[str, Any]]:
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    groups = [hypothesis.get("probes"), experiment.get("method"), experiment.get("rollbacks")]
    return [a for group in groups if isinstance(group, list) for a in group if isinstance(a, dict)]


def experiment_document(experiment: dict[str, Any], prometheus_url: str | None) -> None:
    """Rescale one experiment in place (its own `aftershock` extension included)."""
    for activity in _activities(experiment):
        arguments = (activity.get("provider") or {}).get("arguments")
        if not isinstance(arguments, dict):
            continue
        if arguments.get("min_age") is not None:
            arguments["min_age"] = scaled(arguments["min_age"])
        if isinstance(arguments.get("query"), str):
            arguments["query"] = promql(arguments["query"])
    configuration = experiment.get("configuration")
    if (
        prometheus_url
        and isinstance(configuration, dict)
        and "prometheus_base_url" in configuration
    ):
        configuration["prometheus_base_url"] = prometheus_url
    for extension in experiment.get("extensions") or []:
        if isinstance(extension, dict) and extension.get("name") == "aftershock":
            _blast_radius(extension)
            _stop_conditions(extension)


def catalog_document(catalog: dict[str, Any]) -> None:
    """catalog.yaml: the settings it attaches to unmodified Chaos Toolkit files."""
    for entry in catalog.get("experiments") or []:
        if isinstance(entry, dict):
            _blast_radius(entry)
            _stop_conditions(entry)


def copy_catalog(source: Path, target: Path, prometheus_url: str | None) -> Path:
    """`source` rescaled into `target` (a fresh directory); other files copied as they are."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if not path.is_file():
            continue
        if path.suffix not in (".yaml", ".yml", ".json"):
            shutil.copy2(path, target / path.name)
            continue
        document = yaml.safe_load(path.read_text())
        if isinstance(document, dict) and isinstance(document.get("experiments"), list):
            catalog_document(document)
        elif isinstance(document, dict):
            experiment_document(document, prometheus_url)
        text = (
            json.dumps(document, indent=2)
            if path.suffix == ".json"
            else yaml.safe_dump(document, sort_keys=False)
        )
        (target / path.name).write_text(text)
    return target
