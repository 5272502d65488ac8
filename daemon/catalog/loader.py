"""Load a catalog: a directory of Chaos Toolkit experiment files plus an optional index.

One bad file never stops the others: every file gets its own result, loaded or not, and
the report says which is which. aftershock settings for a file come from its
`extensions` entry named `aftershock`, or from its entry in `catalog.yaml`, never both.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from daemon.catalog import checks, problems
from daemon.catalog.extension import (
    AftershockExtension,
    AftershockSettings,
    IndexEntry,
    extension_vocabulary,
)
from daemon.catalog.models import Experiment
from daemon.catalog.problems import Problem, Severity
from daemon.documents import (
    Document,
    DocumentError,
    ReadLimits,
    decode_text,
    detect_format,
    parse_text,
    read_bytes,
)
from daemon.settings import Settings

INDEX_NAME = "catalog.yaml"
SUFFIXES = (".yaml", ".yml", ".json")
MAX_ID_LENGTH = 63  # fits a Kubernetes label value, so Events and metrics can carry it
SettingsSource = Literal["extension", "catalog.yaml", "defaults"]


@dataclass(frozen=True)
class LoadOptions:
    limits: ReadLimits = field(default_factory=ReadLimits)
    max_files: int = 2000
    globals: checks.GlobalLimits = field(default_factory=checks.GlobalLimits)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoadOptions:
        """The loader's bounds and the global limits an experiment may only tighten."""
        safety = settings.safety
        return cls(
            limits=settings.catalog.read_limits(),
            max_files=settings.catalog.max_files,
            globals=checks.GlobalLimits(
                process_allowlist=tuple(safety.process_allowlist),
                prometheus_url=settings.prometheus.url,
                max_pods=safety.max_pods,
                max_percent=safety.max_percent,
                min_ready_replicas=safety.min_ready_replicas,
                cooldown=safety.cooldown,
                max_disruptions_per_day=safety.max_disruptions_per_day,
                on_limit=safety.on_limit,
                require_workload_ready=safety.require_workload_ready,
                respect_pdb=safety.respect_pdb,
                dry_run=safety.dry_run,
            ),
        )


@dataclass(frozen=True)
class LoadedExperiment:
    """A valid experiment, ready to schedule or run."""

    id: str
    path: Path
    experiment: Experiment
    settings: AftershockSettings
    settings_source: SettingsSource
    raw: dict[str, Any]
    digest: str

    @property
    def title(self) -> str:
        return self.experiment.title


@dataclass
class FileResult:
    path: Path
    experiment_id: str | None
    loaded: LoadedExperiment | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.loaded is not None and not any(
            p.severity is Severity.ERROR for p in self.problems
        )


@dataclass
class CatalogReport:
    files: list[FileResult] = field(default_factory=list)
    index: FileResult | None = None
    problems: list[Problem] = field(default_factory=list)  # not tied to one file

    @property
    def experiments(self) -> list[LoadedExperiment]:
        return [f.loaded for f in self.files if f.ok and f.loaded is not None]

    @property
    def ok(self) -> bool:
        return (
            all(f.ok for f in self.files)
            and (self.index is None or not _has_error(self.index.problems))
            and not _has_error(self.problems)
        )


def _has_error(items: Sequence[Problem]) -> bool:
    return any(p.severity is Severity.ERROR for p in items)


def slugify(file_name: str) -> str:
    """Experiment id from a file name: lower-case ASCII letters, digits and dashes."""
    stem = file_name
    for suffix in SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    ascii_text = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def load_catalog(paths: Sequence[Path], options: LoadOptions) -> CatalogReport:
    """Load every PATH (a catalog directory or one experiment file) into one report."""
    report = CatalogReport()
    for path in paths:
        try:
            is_dir = path.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            _load_directory(path, options, report)
        elif path.name == INDEX_NAME:
            _load_directory(path.parent, options, report)
        else:
            report.files.append(load_file(path, options))
    _check_duplicate_ids(report)
    return report


def _load_directory(directory: Path, options: LoadOptions, report: CatalogReport) -> None:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        report.problems.append(
            problems.error(f"{directory}: cannot list directory: {exc.strerror or exc}")
        )
        return
    candidates = [
        Path(entry.path)
        for entry in entries
        if not entry.name.startswith(".")
        and entry.name != INDEX_NAME
        and entry.name.lower().endswith(SUFFIXES)
    ]
    index_path = directory / INDEX_NAME
    index_entries: dict[str, IndexEntry | None] = {}
    index_untrusted = False
    if any(entry.name == INDEX_NAME for entry in entries):
        report.index, index_entries = _load_index(index_path, {p.name for p in candidates}, options)
        # Any error in the index (unreadable, a dangling or duplicate entry, invalid limits,
        # an unknown key) means it cannot be trusted to say which files it governs.
        index_untrusted = _has_error(report.index.problems)
    if not candidates:
        report.problems.append(
            problems.error(
                f"{directory}: no experiment files (*.yaml, *.yml, *.json) in this directory"
            )
        )
        return
    if len(candidates) > options.max_files:
        report.problems.append(
            problems.error(
                f"{directory}: {len(candidates)} experiment files, over the limit of "
                f"{options.max_files} (settings catalog.max_files); only the first "
                f"{options.max_files} by name were loaded"
            )
        )
        candidates = candidates[: options.max_files]
    for path in candidates:
        has_entry = path.name in index_entries
        result = load_file(path, options, index_entries.get(path.name), index_entry_given=has_entry)
        if index_untrusted and not has_entry:
            # Fail closed: the index may hold this file's limits (a dangling entry is often
            # a typo for it); never run it without them.
            result.problems.append(
                problems.error(
                    f"{INDEX_NAME} cannot be read in full or has errors (see its problems), "
                    "so this file's settings there are unknown; it is not loaded until the "
                    "index is fixed (the daemon keeps the last good version in force, "
                    "marked stale)"
                )
            )
            result.loaded = None
        report.files.append(result)


def _load_index(
    path: Path, present: set[str], options: LoadOptions
) -> tuple[FileResult, dict[str, IndexEntry | None]]:
    """Entries by file name; an entry that is invalid maps to None (its file then fails).

    Any error in the returned result makes the caller distrust the whole index: every file
    without a valid entry then fails too (it might be the one a broken entry meant).
    """
    result = FileResult(path, None)
    entries: dict[str, IndexEntry | None] = {}
    try:
        doc, _ = _read(path, options)
    except DocumentError as exc:
        result.problems.append(problems.from_document_error(exc))
        return result, entries
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("experiments", []), list):
        result.problems.append(
            problems.error("catalog.yaml must be a mapping with a list under 'experiments'")
        )
        return result, entries
    result.problems.extend(
        problems.error(f"unknown key {key!r}; catalog.yaml holds only 'experiments'", (key,), doc)
        for key in data
        if key != "experiments"
    )
    vocabulary = extension_vocabulary()
    for i, raw in enumerate(data.get("experiments") or []):
        base = ("experiments", i)
        name = raw.get("file") if isinstance(raw, dict) else None
        try:
            entry = IndexEntry.model_validate(raw)
        except ValidationError as exc:
            result.problems += problems.from_validation(exc, raw, doc, base, vocabulary)
            if isinstance(name, str):
                entries[name] = None
            continue
        if "/" in entry.file or entry.file in (".", ".."):
            result.problems.append(
                problems.error(
                    f"file {entry.file!r} must be a file name in the catalog directory",
                    (*base, "file"),
                    doc,
                )
            )
            continue
        if entry.file in entries:
            result.problems.append(
                problems.error(f"file {entry.file!r} is listed twice", (*base, "file"), doc)
            )
            entries[entry.file] = None
            continue
        if entry.file not in present:
            result.problems.append(
                problems.error(
                    f"no experiment file {entry.file!r} in {path.parent}", (*base, "file"), doc
                )
            )
            continue
        found = checks.check_settings(entry, base, doc, options.globals)
        result.problems += found
        entries[entry.file] = None if _has_error(found) else entry
    return result, entries


def _read(path: Path, options: LoadOptions) -> tuple[Document, bytes]:
    raw = read_bytes(path, options.limits.max_bytes)
    return parse_text(decode_text(raw), detect_format(path), options.limits, str(path)), raw


def load_file(
    path: Path,
    options: LoadOptions,
    index_entry: IndexEntry | None = None,
    *,
    index_entry_given: bool = False,
) -> FileResult:
    """Load one experiment file; never raises for anything wrong with the file."""
    experiment_id = slugify(path.name)
    result = FileResult(path, experiment_id or None)
    if not path.name.lower().endswith(SUFFIXES):
        result.problems.append(problems.error("experiment files must end in .yaml, .yml or .json"))
        return result
    if not experiment_id:
        result.problems.append(
            problems.error(f"file name {path.name!r} gives an empty experiment id; rename it")
        )
        return result
    if len(experiment_id) > MAX_ID_LENGTH:
        result.problems.append(
            problems.error(
                f"experiment id {experiment_id!r} is longer than {MAX_ID_LENGTH} characters; "
                "shorten the file name"
            )
        )
        return result
    try:
        doc, raw_bytes = _read(path, options)
    except DocumentError as exc:
        result.problems.append(problems.from_document_error(exc))
        return result
    data = doc.data
    if not isinstance(data, dict):
        result.problems.append(
            problems.error(
                f"an experiment is a mapping (title, method, ...), not a {type(data).__name__}"
            )
        )
        return result
    experiment: Experiment | None = None
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as exc:
        result.problems += problems.from_validation(exc, data, doc)
    else:
        # Cross-field rules assume the structure is right, so they run only then.
        result.problems += checks.check_experiment(data, doc, options.globals)
    # The extension is independent of the Chaos Toolkit part: report its problems too.
    settings, source = _aftershock_settings(
        data,
        doc=doc,
        options=options,
        index_entry=index_entry,
        index_entry_given=index_entry_given,
        result=result,
    )
    if experiment is None or settings is None or _has_error(result.problems):
        return result
    if settings.schedule is None and settings.enabled:
        result.problems.append(
            problems.warning("no schedule: this experiment runs only when triggered")
        )
    result.loaded = LoadedExperiment(
        id=experiment_id,
        path=path,
        experiment=experiment,
        settings=settings,
        settings_source=source,
        raw=data,
        digest=hashlib.sha256(raw_bytes).hexdigest(),
    )
    return result


def _aftershock_settings(
    data: dict[str, Any],
    *,
    doc: Document,
    options: LoadOptions,
    index_entry: IndexEntry | None,
    index_entry_given: bool,
    result: FileResult,
) -> tuple[AftershockSettings | None, SettingsSource]:
    extensions = data.get("extensions")
    # This runs even when the structure is invalid (that error is already reported).
    found = [
        (i, ext)
        for i, ext in enumerate(extensions if isinstance(extensions, list) else [])
        if isinstance(ext, dict) and ext.get("name") == "aftershock"
    ]
    result.problems += _extension_name_problems(extensions, doc)
    if len(found) > 1:
        result.problems.append(
            problems.error(
                "more than one 'aftershock' extension; keep one", ("extensions", found[1][0]), doc
            )
        )
        return None, "defaults"
    if found and index_entry_given:
        result.problems.append(
            problems.error(
                "aftershock settings are given both here and in catalog.yaml; keep one place",
                ("extensions", found[0][0]),
                doc,
            )
        )
        return None, "defaults"
    if index_entry_given:
        if index_entry is None:
            result.problems.append(problems.error("its entry in catalog.yaml is invalid"))
            return None, "defaults"
        return index_entry, "catalog.yaml"
    if not found:
        return AftershockSettings(), "defaults"
    position, raw = found[0]
    base = ("extensions", position)
    try:
        extension = AftershockExtension.model_validate(raw)
    except ValidationError as exc:
        result.problems += problems.from_validation(exc, raw, doc, base, extension_vocabulary())
        return None, "defaults"
    result.problems += checks.check_settings(extension, base, doc, options.globals)
    return extension, "extension"


_OWN_KEYS = frozenset({"schedule", "blast_radius", "stop_conditions", "recovery", "dry_run"})


def _extension_name_problems(extensions: Any, doc: Document) -> list[Problem]:
    """`Aftershock`, `after-shock`, `aftershok`: settings that would be silently ignored."""
    found: list[Problem] = []
    for i, ext in enumerate(extensions if isinstance(extensions, list) else []):
        name = ext.get("name") if isinstance(ext, dict) else None
        if not isinstance(name, str) or name == "aftershock":
            continue
        squashed = re.sub(r"[^a-z]", "", name.lower())
        if difflib.SequenceMatcher(None, squashed, "aftershock").ratio() >= 0.8:
            found.append(
                problems.error(
                    f"extension name {name!r} is not 'aftershock' (exact, lower case); as "
                    "written, its settings (schedule, limits) would be ignored",
                    ("extensions", i, "name"),
                    doc,
                )
            )
        elif isinstance(ext, dict) and _OWN_KEYS & set(ext):
            keys = ", ".join(sorted(_OWN_KEYS & set(ext)))
            found.append(
                problems.warning(
                    f"extension {name!r} has aftershock keys ({keys}) but only the extension "
                    "named 'aftershock' is read; these are ignored",
                    ("extensions", i, "name"),
                    doc,
                    code="extension_name",
                )
            )
    return found


def _check_duplicate_ids(report: CatalogReport) -> None:
    by_id: dict[str, list[FileResult]] = {}
    for result in report.files:
        if result.experiment_id:
            by_id.setdefault(result.experiment_id, []).append(result)
    for experiment_id, results in by_id.items():
        if len(results) < 2:
            continue
        for result in results:
            others = ", ".join(str(r.path) for r in results if r is not result)
            result.problems.append(
                problems.error(
                    f"experiment id {experiment_id!r} is also the id of {others}; "
                    "ids come from file names, so rename one"
                )
            )
            result.loaded = None
