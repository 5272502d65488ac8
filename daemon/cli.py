"""The `aftershock` command line.

Exit codes: 0 success, 1 the input is invalid (validate) or the command failed, 2 usage or
configuration errors (bad flags, missing paths, bad settings). `run` has its own table
(RUN_EXIT; a journal that could not be written is EXIT_RUN_FAILED whatever the outcome).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from daemon import __version__
from daemon.outcomes import EXIT_CODES
from daemon.settings import Settings, SettingsLoadError, load_settings

if TYPE_CHECKING:
    from daemon.engine.context import RunContext

EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_RUN_FAILED = 4
RUN_EXIT = EXIT_CODES  # by Outcome (daemon/outcomes.py); equal to the stored strings


class FiniteFloat(click.FloatRange):
    """A bounded float that also refuses nan and inf (nan slips through range checks)."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class Context:
    def __init__(self, config_file: Path | None, log_level: str | None):
        self.config_file = config_file
        self.log_level = log_level
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """Built once, on first use, so `--help` never trips over a bad environment."""
        if self._settings is None:
            try:
                settings = load_settings(self.config_file)
            except SettingsLoadError as exc:
                click.echo("aftershock: invalid settings:", err=True)
                for line in exc.lines:
                    click.echo(f"  {line}", err=True)
                sys.exit(EXIT_USAGE)
            if self.log_level:
                settings = settings.model_copy(
                    update={
                        "logging": settings.logging.model_copy(
                            update={"level": self.log_level.upper()}
                        )
                    }
                )
            from daemon.logging import configure_logging

            configure_logging(settings.logging)
            self._settings = settings
        return self._settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="aftershock")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML settings file (environment AFTERSHOCK_* overrides it).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="Override settings logging.level.",
)
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, log_level: str | None) -> None:
    """aftershock: scheduled, guarded, continuous chaos for Kubernetes."""
    if config_file is not None and not config_file.exists():
        raise click.BadParameter(
            f"settings file {config_file} does not exist", param_hint="--config"
        )
    ctx.obj = Context(config_file, log_level)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
@click.option("--quiet", "-q", is_flag=True, help="Print only files with problems.")
@click.pass_obj
def validate(obj: Context, paths: tuple[Path, ...], as_json: bool, quiet: bool) -> None:
    """Check experiment files or catalog directories (PATH...) and report every problem."""
    for path in paths:
        try:
            path.stat()
        except OSError as exc:
            from daemon.documents import describe_os_error

            raise click.BadParameter(
                f"{path}: {describe_os_error(exc)}", param_hint="PATH"
            ) from None
    from daemon.catalog.loader import LoadOptions, load_catalog

    report = load_catalog(list(paths), LoadOptions.from_settings(obj.settings))
    if as_json:
        click.echo(json.dumps(report_as_json(report), indent=2))
    else:
        _print_report(report, quiet)
    sys.exit(0 if report.ok else EXIT_INVALID)


def _run_logger(settings: Settings) -> Any:
    """The run's logger, after a warning for each setting that weakens a safe default."""
    from daemon.logging import get_logger
    from daemon.settings import weakened_safety

    log = get_logger("aftershock.run")
    for weakened in weakened_safety(settings):
        log.warning("safety weakened", setting=weakened)
    return log


@cli.command()
@click.option(
    "--cluster",
    "cluster_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Cluster file (see docs/simulator.md).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="Port (0: any free port).")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write a kubeconfig for kubectl and clients (default: a temporary file).",
)
@click.option("--seed", type=int, help="Seed for names, delays and faults (reproducible runs).")
def simulate(
    cluster_file: Path, host: str, port: int, kubeconfig: Path | None, seed: int | None
) -> None:
    """Run a simulated Kubernetes API server with controllers, until SIGINT or SIGTERM."""
    import signal
    import threading

    from daemon.simulator.cluster_file import ClusterFileError
    from daemon.simulator.runner import SimulatedCluster

    try:
        sim = SimulatedCluster.from_file(
            cluster_file, host=host, port=port, kubeconfig=kubeconfig, seed=seed
        )
        sim.start()
    except ClusterFileError as exc:
        click.echo("aftershock: invalid cluster file:", err=True)
        for line in exc.lines:
            click.echo(f"  {line}", err=True)
        sys.exit(EXIT_USAGE)
    except (OSError, ValueError) as exc:
        click.echo(f"aftershock: cannot start the simulated cluster: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"simulated cluster listening on {sim.url}")
    sys.stdout.flush()
    click.echo(f"kubeconfig: {sim.kubeconfig}  (export KUBECONFIG={sim.kubeconfig})", err=True)
    for name, url in sorted((sim.server.service_urls if sim.server else {}).items()):
        click.echo(f"service {name}: {url}", err=True)
    stop.wait()
    sim.stop()


def _parse_vars(pairs: tuple[str, ...], var_file: Path | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if var_file is not None:
        from daemon.documents import DocumentError, ReadLimits, read_document

        try:
            data = read_document(var_file, ReadLimits()).data
        except DocumentError as exc:
            raise click.BadParameter(
                f"{var_file}: {exc.message}", param_hint="--var-file"
            ) from None
        if not isinstance(data, dict):
            raise click.BadParameter(f"{var_file}: expected a mapping", param_hint="--var-file")
        values.update(
            data.get("configuration", data) if isinstance(data.get("configuration"), dict) else data
        )
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--var")
        values[key] = value
    return values


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="kubeconfig (default: settings, $KUBECONFIG, ~/.kube/config, then in-cluster).",
)
@click.option("--context", "kube_context", help="kubeconfig context.")
@click.option(
    "--dry-run/--no-dry-run",
    default=None,
    help="Select and guard, kill nothing (default: settings safety.dry_run, which is true).",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("journal.json"),
    show_default=True,
    help="Where to write the journal.",
)
@click.option(
    "--var", "var_pairs", multiple=True, metavar="KEY=VALUE", help="Override a configuration value."
)
@click.option(
    "--var-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML/JSON configuration overrides.",
)
@click.option(
    "--seed",
    type=int,
    help="Seed for random target choice (default: random; recorded in the journal).",
)
@click.pass_obj
def run(  # noqa: PLR0917 - click passes every option as an argument
    obj: Context,
    file: Path,
    kubeconfig: Path | None,
    kube_context: str | None,
    dry_run: bool | None,
    journal_path: Path,
    var_pairs: tuple[str, ...],
    var_file: Path | None,
    seed: int | None,
) -> None:
    """Run one experiment now, through every guard; exit 0 passed, 1 deviated, 3 not steady or
    refused (nothing injected), 4 failed or aborted, 2 invalid input."""
    import os
    import secrets as token_source

    from daemon.catalog.loader import LoadOptions, load_file
    from daemon.engine.context import RunContext
    from daemon.engine.runner import Runner
    from daemon.halt_switch import GATE_MAX_AGE, HaltConfigMap
    from daemon.logging import run_context

    settings = obj.settings
    overrides = _parse_vars(var_pairs, var_file)
    unwritable = _journal_problem(journal_path)
    if unwritable:  # checked before any chaos: a run whose journal cannot be written must not start
        raise click.BadParameter(unwritable, param_hint="--journal")
    result = load_file(file, LoadOptions.from_settings(settings))
    if not result.ok or result.loaded is None:
        click.echo(f"aftershock: {file} is not a valid experiment:", err=True)
        for problem in sorted(result.problems, key=_reading_order):
            if problem.severity == "error":
                click.echo(f"  {problem.render()}", err=True)
        sys.exit(EXIT_USAGE)
    loaded = result.loaded
    log = _run_logger(settings)
    effective_dry_run = settings.safety.dry_run if dry_run is None else dry_run
    effective_dry_run = effective_dry_run or bool(loaded.settings.dry_run)
    kube = _connect(settings, kubeconfig, kube_context, log)
    # The same halt switch as the daemon's, read live before the run and before every
    # disruption (on a read error the last known state stays: see daemon.halt_switch).
    switch = HaltConfigMap(kube, settings.kube.namespace, settings.safety.halt_configmap)

    def halted() -> str | None:
        reason = switch.read(GATE_MAX_AGE)
        return None if reason is None else f"halted by ConfigMap: {reason}"

    run_id = f"{loaded.id}-{token_source.token_hex(4)}"
    ctx = RunContext(
        experiment_id=loaded.id,
        run_id=run_id,
        settings=settings,
        aftershock=loaded.settings,
        kube=kube,
        seed=seed if seed is not None else token_source.randbits(32),
        dry_run=effective_dry_run,
        environ=os.environ,
        disruption_check=lambda: "halted" if halted() else None,
    )
    if effective_dry_run:
        log.warning(
            "dry run: targets are chosen and guarded, nothing is killed "
            "(settings safety.dry_run; pass --no-dry-run to inject)"
        )

    def progress(event: str, fields: dict[str, Any]) -> None:
        log.info(event, **fields)

    try:
        with (
            _stopped_by_signals(ctx, settings.scheduling.shutdown_timeout.total_seconds()),
            run_context(loaded.id, run_id),
        ):
            outcome = Runner(
                ctx, loaded.raw, var_overrides=overrides, progress=progress, halted=halted
            ).run()
    finally:
        if kube is not None:
            kube.close()
    written = _write_journal(journal_path, outcome.journal)
    click.echo(
        f"outcome: {outcome.outcome}"
        + (f" ({outcome.reason})" if outcome.reason else "")
        + (f"; journal: {journal_path}" if written else "; journal NOT written (printed above)")
    )
    sys.exit(RUN_EXIT[outcome.outcome] if written else EXIT_RUN_FAILED)


def _connect(settings: Settings, kubeconfig: Path | None, context: str | None, log: Any) -> Any:
    """The Kube client for `run`, or None (Kubernetes providers then fail). An explicit
    `--kubeconfig` that cannot be loaded is a bad option (exit 2) before any chaos."""
    from daemon.kube.client import Connection, Kube
    from daemon.kube.errors import KubeError

    try:
        return Kube.connect(
            Connection(
                mode=settings.kube.mode,
                kubeconfig=kubeconfig or settings.kube.kubeconfig,
                context=context or settings.kube.context,
                api_url=settings.kube.api_url,
                timeout=settings.kube.request_timeout.total_seconds(),
            )
        )
    except KubeError as exc:
        if kubeconfig is not None:
            raise click.BadParameter(exc.message, param_hint="--kubeconfig") from None
        log.warning(
            "no Kubernetes API connection; Kubernetes providers will fail", error=exc.message
        )
        return None


def _journal_problem(path: Path) -> str:
    """'' when a journal can be created next to `path` (probed with a real temporary file:
    permission bits alone say yes for root on /proc or a read-only mount)."""
    import os
    import tempfile

    directory = path.resolve().parent
    if not directory.is_dir():
        return f"{directory} is not a writable directory"
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        os.close(fd)
        Path(temp).unlink()
    except OSError as exc:
        return f"{directory} is not a writable directory: {exc.strerror or exc}"
    return ""


def _write_journal(path: Path, journal: dict[str, Any]) -> bool:
    """Atomically (temp file + rename): a crash never leaves half a journal behind."""
    import os
    import tempfile

    text = json.dumps(journal, indent=2, default=str)
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.resolve().parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(temp).replace(path)
    except OSError as exc:
        click.echo(f"aftershock: cannot write the journal to {path}: {exc}", err=True)
        click.echo(text)  # the record of what was done must not be lost
        return False
    return True


@cli.command()
@click.option(
    "--port", type=click.IntRange(0, 65535), help="HTTP port (default: settings api.port)."
)
@click.pass_obj
def serve(obj: Context, port: int | None) -> None:
    """Run the daemon: schedules, guarded runs, API, metrics (the in-cluster entry point)."""
    import logging
    import os
    import threading

    from daemon.logging import get_logger
    from daemon.server import serve as serve_forever
    from daemon.server import start

    settings = obj.settings
    try:
        running = start(settings, port=port, environ=dict(os.environ))
    except OSError as exc:
        click.echo(f"aftershock: cannot listen on {settings.api.host}: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"aftershock serving on {running.url}", err=True)
    serve_forever(running)
    lingering = [
        t.name
        for t in threading.enumerate()
        if t is not threading.main_thread() and t.is_alive() and not t.daemon
    ]
    if running.daemon.abandoned or lingering:
        # Runs abandoned at the shutdown bound are journaled, and the daemon has stopped
        # within it; no thread (a run's, a request's worker waiting on a TokenReview) may
        # keep the process alive past it (I9): the interpreter would join them at exit.
        if lingering:
            get_logger("aftershock.server").warning(
                "threads still busy at the shutdown bound; exiting", threads=lingering
            )
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(0)


@cli.command()
@click.option(
    "--duration",
    type=FiniteFloat(min=0, max=30 * 86400),
    default=0,
    show_default=True,
    help="Seconds to run, then exit cleanly (0: until Ctrl-C).",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--interval",
    type=FiniteFloat(min=2, max=86400),
    default=10,
    show_default=True,
    help="Accelerated schedule: seconds between runs of each experiment.",
)
@click.option(
    "--prometheus",
    "prometheus_binary",
    default=None,
    metavar="PATH|none",
    help="Prometheus binary judging stop conditions (default: `prometheus` on PATH; none: skip).",
)
@click.pass_obj
def demo(
    obj: Context, duration: float, port: int, interval: float, prometheus_binary: str | None
) -> None:
    """The demo catalog on accelerated schedules against the built-in simulated cluster."""
    from daemon.demo import run_demo

    sys.exit(
        run_demo(
            obj.settings,
            duration=duration,
            port=port,
            interval=interval,
            prometheus_binary=prometheus_binary,
        )
    )


@cli.command("demo-app")
@click.option(
    "--service",
    envvar="AFTERSHOCK_DEMO_SERVICE",
    required=True,
    help="The shop service to be: webapp, greeter, name (env AFTERSHOCK_DEMO_SERVICE).",
)
@click.option("--host", envvar="AFTERSHOCK_DEMO_HOST", default="0.0.0.0", show_default=True)  # noqa: S104 - a pod listens on its pod IP
@click.option("--port", envvar="AFTERSHOCK_DEMO_PORT", type=click.IntRange(0, 65535), default=8080)
@click.option(
    "--depends-on",
    envvar="AFTERSHOCK_DEMO_DEPENDS_ON",
    default="",
    help="NAME[=URL],... asked before answering (NAME alone: http://NAME/).",
)
@click.option(
    "--unavailable-status",
    envvar="AFTERSHOCK_DEMO_UNAVAILABLE_STATUS",
    type=click.IntRange(100, 599),
    default=503,
    show_default=True,
    help="The answer when a dependency cannot answer.",
)
@click.option(
    "--unavailable-delay",
    envvar="AFTERSHOCK_DEMO_UNAVAILABLE_DELAY",
    default="0s",
    show_default=True,
    help="Wait this long before the failure answer (e.g. 3500ms).",
)
@click.option(
    "--dependency-timeout",
    envvar="AFTERSHOCK_DEMO_DEPENDENCY_TIMEOUT",
    default="2s",
    show_default=True,
)
@click.option("--pod", envvar="HOSTNAME", default="local", help="Pod name in answers.")
def demo_app(  # noqa: PLR0917 - click passes every option as an argument
    service: str,
    host: str,
    port: int,
    depends_on: str,
    unavailable_status: int,
    unavailable_delay: str,
    dependency_timeout: str,
    pod: str,
) -> None:
    """Serve one seed-001 shop service over HTTP (the demo shop on a real cluster)."""
    from daemon.demoapp import DemoApp, DemoAppError, parse_dependencies, serve
    from daemon.durations import parse_duration

    try:
        app = DemoApp(
            service=service,
            pod=pod,
            depends_on=parse_dependencies(depends_on),
            unavailable_status=unavailable_status,
            unavailable_delay=_seconds("--unavailable-delay", unavailable_delay, parse_duration),
            dependency_timeout=_seconds("--dependency-timeout", dependency_timeout, parse_duration),
        )
    except DemoAppError as exc:
        raise click.BadParameter(str(exc), param_hint="--depends-on") from None
    try:
        serve(app, host, port, lambda line: click.echo(line, err=True))
    except OSError as exc:
        click.echo(f"aftershock: demo-app cannot listen on {host}:{port}: {exc}", err=True)
        sys.exit(EXIT_INVALID)


def _seconds(option: str, text: str, parse: Any) -> float:
    try:
        seconds = float(parse(text).total_seconds())
    except (TypeError, ValueError) as exc:
        raise click.BadParameter(f"{text!r}: {exc}", param_hint=option) from None
    if not 0 <= seconds <= 60:
        raise click.BadParameter(f"{text!r} is not between 0s and 60s", param_hint=option)
    return seconds


@cli.command()
@click.argument(
    "catalog", required=False, type=click.Path(exists=True, path_type=Path), metavar="[CATALOG]"
)
@click.option("--hours", type=FiniteFloat(min=0, max=24 * 366), default=24, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable plan.")
@click.pass_obj
def plan(obj: Context, catalog: Path | None, hours: float, as_json: bool) -> None:
    """Print the upcoming fire times of every scheduled experiment."""
    from datetime import UTC, datetime, timedelta

    from daemon.catalog.loader import LoadOptions, load_catalog
    from daemon.scheduling.triggers import upcoming

    settings = obj.settings
    report = load_catalog([catalog or settings.catalog.path], LoadOptions.from_settings(settings))
    now = datetime.now(UTC)
    rows: dict[str, Any] = {}
    for loaded in sorted(report.experiments, key=lambda e: e.id):
        schedule = loaded.settings.schedule
        if not loaded.settings.enabled or schedule is None:
            rows[loaded.id] = {"schedule": None, "fires": []}
            continue
        fires = upcoming(
            schedule,
            now,
            now + timedelta(hours=hours),
            experiment=loaded.id,
            seed=settings.scheduling.seed,
            limit=1000,
        )
        rows[loaded.id] = {"schedule": schedule.describe(), "fires": [f.isoformat() for f in fires]}
    invalid = sum(1 for f in report.files if not f.ok)
    if as_json:
        click.echo(json.dumps({"from": now.isoformat(), "hours": hours, "experiments": rows}))
    else:
        for experiment_id, row in rows.items():
            click.echo(f"{experiment_id}: {row['schedule'] or 'not scheduled'}")
            for fire in row["fires"][:50]:
                click.echo(f"  {fire}")
            if len(row["fires"]) > 50:
                click.echo(f"  ... {len(row['fires']) - 50} more")
        if invalid:
            click.echo(
                f"{invalid} invalid file(s) not planned; run `aftershock validate`", err=True
            )
    sys.exit(EXIT_INVALID if invalid else 0)


@cli.group()
def notify() -> None:
    """Notifications: check a sink, show the settings (secrets redacted)."""


@notify.command("test")
@click.argument("sink")
@click.pass_obj
def notify_test(obj: Context, sink: str) -> None:
    """Send a sample message to SINK once (no retries) and print the answer."""
    import os

    from daemon.notify.notifier import Notifier

    settings = obj.settings.notify
    if settings.sink(sink) is None:
        names = ", ".join(s.name for s in settings.sinks) or "none configured"
        click.echo(f"aftershock: no sink {sink!r} in notify.sinks ({names})", err=True)
        sys.exit(EXIT_USAGE)
    reply = Notifier(settings, environ=os.environ, count=lambda *_: None).test(sink)
    shown = reply.error or f"HTTP {reply.status}"
    click.echo(f"{sink}: {shown}")
    if reply.body:
        click.echo(reply.body[:2000])
    sys.exit(0 if reply.ok else EXIT_INVALID)


@notify.command("show")
@click.pass_obj
def notify_show(obj: Context) -> None:
    """Print the notify settings as JSON; inline URLs are redacted, files and variables named."""
    click.echo(json.dumps(obj.settings.notify.model_dump(mode="json"), indent=2))


def report_as_json(report: Any) -> dict[str, Any]:
    def entry(result: Any) -> dict[str, Any]:
        loaded = result.loaded
        return {
            "id": result.experiment_id,
            "file": str(result.path),
            "ok": result.ok,
            "title": loaded.title if loaded else None,
            "settings_source": loaded.settings_source if loaded else None,
            "enabled": loaded.settings.enabled if loaded else None,
            "schedule": (
                loaded.settings.schedule.describe() if loaded and loaded.settings.schedule else None
            ),
            "errors": [p.as_dict() for p in result.problems if p.severity == "error"],
            "warnings": [p.as_dict() for p in result.problems if p.severity == "warning"],
        }

    return {
        "ok": report.ok,
        "loaded": len(report.experiments),
        "invalid": sum(1 for f in report.files if not f.ok),
        "experiments": [entry(f) for f in report.files],
        "index": entry(report.index) if report.index else None,
        "errors": [p.as_dict() for p in report.problems],
    }


def _print_report(report: Any, quiet: bool) -> None:
    results = ([report.index] if report.index else []) + list(report.files)
    for result in results:
        is_index = result.experiment_id is None
        if quiet and not result.problems and (result.ok or is_index):
            continue
        if is_index:
            status = "OK" if not any(p.severity == "error" for p in result.problems) else "INVALID"
            click.echo(f"{status:8} {result.path}")
        elif result.ok:
            loaded = result.loaded
            schedule = (
                loaded.settings.schedule.describe()
                if loaded.settings.schedule
                else "on demand only"
            )
            if not loaded.settings.enabled:
                schedule += " [disabled]"
            click.echo(f"{'OK':8} {result.path}  id={result.experiment_id}  {schedule}")
        else:
            click.echo(f"{'INVALID':8} {result.path}  id={result.experiment_id}")
        for problem in sorted(result.problems, key=_reading_order):
            click.echo(f"  {problem.severity:7} {problem.render()}")
    for problem in report.problems:
        click.echo(f"{problem.severity.upper():8} {problem.render()}")
    loaded = len(report.experiments)
    invalid = sum(1 for f in report.files if not f.ok)
    click.echo(f"{loaded} experiment(s) loaded, {invalid} invalid")


def _reading_order(problem: Any) -> tuple[int, int]:
    return (problem.line or 0, problem.column or 0)


def main() -> None:
    cli(prog_name="aftershock")


@contextmanager
def _stopped_by_signals(ctx: RunContext, bound: float) -> Iterator[None]:
    """SIGINT/SIGTERM stop the run, and bound its shutdown as the daemon's is: every wait left
    (the end-of-run uncordon too) is cut to `scheduling.shutdown_timeout`."""
    import signal
    import time

    def stop(signum: int, _frame: Any) -> None:
        if ctx.deadline is None:
            ctx.deadline = time.monotonic() + bound
        ctx.request_stop("shutdown", signal.Signals(signum).name)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
