"""Rules that span fields of an experiment which pydantic's structural check has accepted.

They run over the raw document (already known to have the right shape), so every finding
carries the exact path of the offending key, hence its line in the file.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from daemon.catalog import providers, values
from daemon.catalog.extension import AftershockSettings
from daemon.catalog.models import KNOWN_ACTIVITY_KEYS, KNOWN_EXPERIMENT_KEYS
from daemon.catalog.problems import Problem, error, suggest, warning
from daemon.catalog.secret_bearing import SecretValues
from daemon.documents import Document, PathKey, describe_path
from daemon.durations import format_duration

_REFERENCE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class GlobalLimits:
    """The global settings the checks compare an experiment against."""

    process_allowlist: tuple[str, ...] = ()
    prometheus_url: str | None = None
    max_pods: int | None = None
    max_percent: float | None = None
    min_ready_replicas: int | None = None
    cooldown: timedelta | None = None
    max_disruptions_per_day: int | None = None
    on_limit: str | None = None
    require_workload_ready: bool | None = None
    respect_pdb: bool | None = None
    dry_run: bool | None = None


def activities(data: dict[str, Any]) -> Iterator[tuple[PathKey, dict[str, Any]]]:
    """Every activity in the experiment with its path, including tolerance probes."""

    def with_tolerance(path: PathKey, activity: dict[str, Any]) -> Iterator[tuple[PathKey, Any]]:
        yield path, activity
        tolerance = activity.get("tolerance")
        if isinstance(tolerance, dict) and tolerance.get("type") == "probe":
            yield from with_tolerance((*path, "tolerance"), tolerance)

    hypothesis = data.get("steady-state-hypothesis") or {}
    for i, probe in enumerate(hypothesis.get("probes") or []):
        yield from with_tolerance(("steady-state-hypothesis", "probes", i), probe)
    for section in ("method", "rollbacks"):
        for i, activity in enumerate(data.get(section) or []):
            yield from with_tolerance((section, i), activity)
    for key, value in (data.get("configuration") or {}).items():
        if isinstance(value, dict) and value.get("type") == "probe":
            yield ("configuration", key), value


def check_experiment(data: dict[str, Any], doc: Document, limits: GlobalLimits) -> list[Problem]:
    problems: list[Problem] = []
    problems += _unknown_keys(data, doc)
    if not data.get("description"):
        problems.append(
            warning(
                "no description; older Chaos Toolkit releases refuse to run a file without one",
                ("title",),
                doc,
            )
        )
    if data.get("controls"):
        problems.append(
            warning(
                "controls are kept in the journal but not run by aftershock", ("controls",), doc
            )
        )
    if not data.get("method"):
        problems.append(
            warning("the method is empty: runs will only check the hypothesis", ("method",), doc)
        )
    problems += _activity_rules(data, doc, limits)
    problems += _references(data, doc)
    return problems


def _unknown_keys(data: dict[str, Any], doc: Document) -> list[Problem]:
    problems = [
        warning(
            f"unknown key {key!r}; Chaos Toolkit ignores it" + suggest(key, KNOWN_EXPERIMENT_KEYS),
            (key,),
            doc,
        )
        for key in data
        if key not in KNOWN_EXPERIMENT_KEYS
    ]
    for path, activity in activities(data):
        problems.extend(
            warning(
                f"unknown activity key {key!r}; Chaos Toolkit ignores it"
                + suggest(key, KNOWN_ACTIVITY_KEYS),
                (*path, key),
                doc,
            )
            for key in activity
            if key not in KNOWN_ACTIVITY_KEYS and path[-1] != "tolerance"
        )
    return problems


def _activity_rules(data: dict[str, Any], doc: Document, limits: GlobalLimits) -> list[Problem]:
    problems: list[Problem] = []
    names: dict[str, PathKey] = {}
    hypothesis_probes = {
        ("steady-state-hypothesis", "probes", i)
        for i in range(len((data.get("steady-state-hypothesis") or {}).get("probes") or []))
    }
    for path, activity in activities(data):
        if "ref" in activity:
            continue
        name = activity.get("name")
        if path[0] != "configuration" and path[-1] != "tolerance" and isinstance(name, str):
            if name in names and path[0] != "rollbacks":
                problems.append(
                    warning(
                        f"activity name {name!r} is used twice; `ref` and journals will be "
                        "ambiguous",
                        (*path, "name"),
                        doc,
                    )
                )
            names.setdefault(name, path)
        if path in hypothesis_probes and activity.get("tolerance") is None:
            problems.append(
                error("a hypothesis probe needs a tolerance", (*path, "tolerance"), doc)
            )
        if path[0] == "configuration":
            problems.append(
                error(
                    "dynamic configuration (type: probe) is not supported by aftershock; "
                    "use a literal or an env entry",
                    path,
                    doc,
                )
            )
        problems += _tolerance_rules(path, activity, doc)
        problems += _provider_rules(path, activity, doc, limits, data)
    problems += _probe_refs(data, doc)
    return problems


def _runs_as_probe(path: PathKey, activity: dict[str, Any]) -> bool:
    """Hypothesis probes, tolerance probes and `type: probe` activities must be read-only."""
    return (
        path[0] in ("steady-state-hypothesis", "configuration")
        or path[-1] == "tolerance"
        or activity.get("type") == "probe"
    )


def _provider_rules(
    path: PathKey,
    activity: dict[str, Any],
    doc: Document,
    limits: GlobalLimits,
    data: dict[str, Any],
) -> list[Problem]:
    provider = activity.get("provider") or {}
    ppath = (*path, "provider")
    problems = [
        error(message, (*ppath, *where), doc)
        for where, message in providers.check_provider(
            provider, as_probe=_runs_as_probe(path, activity), resolved=False
        )
    ]
    kind = provider.get("type")
    if kind == "python":
        problems += _python_rules(ppath, provider, doc, limits, data)
    elif kind == "process":
        allowed = limits.process_allowlist
        if provider.get("path") not in allowed:
            listed = ", ".join(allowed) if allowed else "empty: process providers are off"
            problems.append(
                error(
                    f"process provider {provider.get('path')!r} is not on the allow-list "
                    f"(settings safety.process_allowlist; now {listed})",
                    (*ppath, "path"),
                    doc,
                )
            )
    return problems


def _probe_refs(data: dict[str, Any], doc: Document) -> list[Problem]:
    """A hypothesis `ref` runs the named activity as a probe: it must be read-only too."""
    by_name: dict[str, dict[str, Any]] = {}
    for path, activity in activities(data):  # as the engine resolves refs
        name = activity.get("name")
        if path[0] != "configuration" and path[-1] != "tolerance" and isinstance(name, str):
            by_name.setdefault(name, activity)
    problems: list[Problem] = []
    for path, activity in activities(data):
        target = by_name.get(activity.get("ref", "")) if "ref" in activity else None
        if target is None or not _runs_as_probe(path, activity):
            continue
        provider = target.get("provider") or {}
        spec = providers.spec_for(provider)
        if spec is not None and spec.mutating(provider):
            problems.append(
                error(
                    f"a probe must be read-only, but ref {activity['ref']!r} names an activity "
                    f"whose provider {spec.name} changes the cluster (guard: {spec.guard})",
                    (*path, "ref"),
                    doc,
                )
            )
    return problems


def _tolerance_rules(path: PathKey, activity: dict[str, Any], doc: Document) -> list[Problem]:
    tolerance = activity.get("tolerance")
    if not isinstance(tolerance, dict):
        return []
    tpath = (*path, "tolerance")
    if tolerance.get("type") == "regex":
        pattern = tolerance.get("pattern", "")
        if not providers.is_template(pattern):
            try:
                re.compile(pattern)
            except re.error as exc:
                return [error(f"regex pattern does not compile: {exc}", (*tpath, "pattern"), doc)]
            problem = values.regex(pattern)
            if problem:
                return [error(f"regex pattern {pattern!r}: {problem}", (*tpath, "pattern"), doc)]
    if tolerance.get("type") == "jsonpath":
        path_text = tolerance.get("path", "")
        if not providers.is_template(path_text):
            from jsonpath_ng.ext.parser import parse as jsonpath_parse

            try:
                jsonpath_parse(path_text)
            except Exception as exc:  # noqa: BLE001 - jsonpath-ng raises bare Exception subclasses
                return [error(f"invalid JSONPath {path_text!r}: {exc}", (*tpath, "path"), doc)]
    return []


def _python_rules(
    ppath: PathKey,
    provider: dict[str, Any],
    doc: Document,
    limits: GlobalLimits,
    data: dict[str, Any],
) -> list[Problem]:
    module = provider.get("module")
    arguments = provider.get("arguments") or {}
    problems: list[Problem] = []
    if module == "chaosk8s.pod.actions" and not (
        arguments.get("label_selector") or arguments.get("name_pattern")
    ):
        problems.append(
            warning(
                "no label_selector or name_pattern: every pod of the namespace is a candidate "
                "(the blast-radius guard still applies)",
                (*ppath, "arguments"),
                doc,
            )
        )
    configured = "prometheus_base_url" in (data.get("configuration") or {})
    if module == "chaosprometheus.probes" and not (configured or limits.prometheus_url):
        problems.append(
            warning(
                "a Prometheus probe needs configuration prometheus_base_url or settings "
                "prometheus.url",
                ppath,
                doc,
            )
        )
    return problems


def _references(data: dict[str, Any], doc: Document) -> list[Problem]:
    problems: list[Problem] = []
    names = {activity.get("name") for _, activity in activities(data) if "name" in activity}
    for path, activity in activities(data):
        ref = activity.get("ref")
        if ref is not None and ref not in names:
            problems.append(
                error(
                    f"ref {ref!r} names no activity of this experiment"
                    + suggest(ref, map(str, names)),
                    (*path, "ref"),
                    doc,
                )
            )
    defined = set(data.get("configuration") or {})
    for scope in (data.get("secrets") or {}).values():
        if isinstance(scope, dict):
            defined.update(scope)
    for path, text in _strings(data, ()):
        if path and path[0] in ("configuration", "secrets", "extensions"):
            continue
        problems.extend(
            warning(
                f"${{{name}}} is not defined in configuration or secrets; it will stay "
                "as written" + suggest(name, defined),
                path,
                doc,
            )
            for name in _REFERENCE.findall(text)
            if name not in defined
        )
    return problems


def _strings(value: Any, path: PathKey) -> Iterator[tuple[PathKey, str]]:
    stack: list[tuple[PathKey, Any]] = [(path, value)]
    while stack:
        here, node = stack.pop()
        if isinstance(node, str):
            yield here, node
        elif isinstance(node, dict):
            stack.extend(((*here, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*here, i), v) for i, v in enumerate(node))


def check_settings(
    settings: AftershockSettings, base: PathKey, doc: Document | None, limits: GlobalLimits
) -> list[Problem]:
    """Warnings where an experiment asks for more than the global limits allow.

    Each limit only ever tightens the global one (safety.limits.effective_limits), so a
    looser value is not an error; but the author believes it is in force, so say it is not.
    """
    problems = [
        warning(f"{message}; the global limit applies", (*base, *path), doc, "looser_than_global")
        for path, message in _looser(settings, limits)
    ]
    if settings.stop_conditions and not limits.prometheus_url:
        problems.append(
            warning(
                "stop conditions need settings prometheus.url; until it is set, runs are "
                "refused (stop conditions fail safe)",
                (*base, "stop_conditions"),
                doc,
            )
        )
    return problems


def _looser(settings: AftershockSettings, g: GlobalLimits) -> Iterator[tuple[PathKey, str]]:
    """(path, what is looser) for each value looser than its global setting."""
    r = settings.blast_radius
    radius: PathKey = ("blast_radius",)
    if g.max_pods is not None and r.max_pods is not None and r.max_pods > g.max_pods:
        yield (*radius, "max_pods"), f"max_pods {r.max_pods} is above the global limit {g.max_pods}"
    if g.max_percent is not None and r.max_percent is not None and r.max_percent > g.max_percent:
        yield (
            (*radius, "max_percent"),
            f"max_percent {r.max_percent:g} is above the global limit {g.max_percent:g}",
        )
    floor = r.min_ready_replicas
    if g.min_ready_replicas is not None and isinstance(floor, int) and floor < g.min_ready_replicas:
        yield (
            (*radius, "min_ready_replicas"),
            f"min_ready_replicas {floor} is below the global floor {g.min_ready_replicas}",
        )
    if g.cooldown is not None and r.cooldown is not None and r.cooldown < g.cooldown:
        yield (
            (*radius, "cooldown"),
            f"cooldown {format_duration(r.cooldown)} is shorter than the global "
            f"{format_duration(g.cooldown)}",
        )
    per_day = r.max_disruptions_per_day
    if g.max_disruptions_per_day is not None and per_day and per_day > g.max_disruptions_per_day:
        yield (
            (*radius, "max_disruptions_per_day"),
            f"max_disruptions_per_day {per_day} is above the global {g.max_disruptions_per_day}",
        )
    if g.on_limit == "refuse" and r.on_limit == "cap":
        yield (*radius, "on_limit"), "on_limit cap is looser than the global refuse"
    for key in ("require_workload_ready", "respect_pdb"):
        if getattr(g, key) is True and getattr(r, key) is False:
            yield (*radius, key), f"{key} false cannot lift the global {key} true"
    if g.dry_run is True and settings.dry_run is False:
        yield ("dry_run",), "dry_run false cannot lift the global dry-run (safety.dry_run)"


def resolved_problems(data: dict[str, Any], resolve: Callable[[Any], Any]) -> list[str]:
    """At run start: every provider of the experiment, with its templates resolved by
    `resolve`, checked by the registry's rules; `method[0].provider.arguments.mode: ...`."""
    found: list[str] = []
    secrets = SecretValues(data, resolve)
    for path, activity in activities(data):
        if "ref" in activity or path[0] == "configuration":
            continue
        raw = activity.get("provider") or {}
        provider = resolve(copy.deepcopy(raw))
        if not isinstance(provider, dict):
            continue
        for where, message in providers.check_provider(
            provider, as_probe=_runs_as_probe(path, activity), resolved=True
        ):
            shown = secrets.safe(raw, provider, where, message)  # never a piece of a secret
            found.append(f"{describe_path((*path, 'provider', *where))}: {shown}")
    return found
