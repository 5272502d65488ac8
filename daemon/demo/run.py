"""`aftershock demo`: the demo catalog, on an accelerated clock, against the simulator.

Everything a newcomer needs to see in two minutes: passed and deviated runs, refusals with
their reasons, an abort by a stop condition judged by a real Prometheus, recovery times,
the status page and the metrics, with no cluster at hand. The real daemon runs (leader
election, history, API); only time is sped up (daemon.demo.catalog) and the global safety
settings loosened so the seed-001 story (one greeter) can unfold.
"""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from daemon.demo import prometheus
from daemon.demo.catalog import accelerate, copy_catalog
from daemon.demo.printer import DemoPrinter
from daemon.demo.traffic import Users
from daemon.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
CLUSTER_FILE = ROOT / "config" / "demo" / "cluster.yaml"
CATALOG = ROOT / "config" / "experiments"


def demo_settings(
    base: Settings,
    state_dir: Path,
    kubeconfig: Path,
    *,
    catalog: Path = CATALOG,
    prometheus_url: str | None = None,
) -> Settings:
    def group(name: str, **values: Any) -> Any:
        return getattr(base, name).model_copy(update=values)

    return base.model_copy(
        update={
            "safety": group(
                "safety",
                dry_run=False,
                max_percent=100.0,
                min_ready_replicas=0,
                cooldown=timedelta(seconds=10),  # the default 10m on the demo's clock
                stop_condition_interval=timedelta(seconds=1),
            ),
            "catalog": group("catalog", path=catalog, reload_interval=timedelta(seconds=1)),
            "kube": group("kube", mode="kubeconfig", kubeconfig=kubeconfig, namespace="aftershock"),
            "store": group("store", path=state_dir / "history.db"),
            "api": group("api", host="127.0.0.1", auth="none"),
            "leader": group(
                "leader",
                lease_duration=timedelta(seconds=6),
                renew_deadline=timedelta(seconds=4),
                retry_period=timedelta(seconds=1),
            ),
            "scheduling": group("scheduling", misfire_grace=timedelta(seconds=30)),
            "prometheus": group("prometheus", url=prometheus_url, timeout=timedelta(seconds=2)),
        }
    )


def _start_prometheus(
    binary: str | None, port: int | None, jobs: dict[str, list[str]]
) -> prometheus.Prometheus | None:
    """Prometheus for the stop conditions, or one plain line saying what is skipped."""
    if not binary or not port:
        click.echo(
            "prometheus:   no `prometheus` binary found, so the stop-condition story is "
            f"skipped (webapp-errors-guarded is refused); {prometheus.HOW_TO_GET}"
        )
        return None
    try:
        prom = prometheus.start(binary, port, jobs)
    except prometheus.PrometheusError as exc:
        click.echo(f"prometheus:   not started ({exc}); stop conditions will refuse runs")
        return None
    click.echo(f"prometheus:   {prom.url}/  (stop conditions are judged here)")
    return prom


def run_demo(
    base: Settings,
    *,
    duration: float,
    port: int,
    interval: float,
    prometheus_binary: str | None = None,
) -> int:
    from daemon.server import serve, start
    from daemon.simulator.runner import SimulatedCluster

    if not CLUSTER_FILE.exists() or not CATALOG.is_dir():
        click.echo(f"aftershock: the demo needs {CLUSTER_FILE} and {CATALOG}", err=True)
        return 2
    click.echo(
        f"aftershock demo: starting the simulated cluster ({CLUSTER_FILE.name}), then the daemon"
    )
    state = Path(tempfile.mkdtemp(prefix="aftershock-demo-"))
    binary = prometheus.find_binary(prometheus_binary)
    prom_port = prometheus.free_port() if binary else None
    prom_url = f"http://127.0.0.1:{prom_port}" if prom_port else None
    sim = SimulatedCluster.from_file(CLUSTER_FILE, kubeconfig=state / "kubeconfig")
    sim.start()
    printer = DemoPrinter(click.echo)
    users: Users | None = None
    prom: prometheus.Prometheus | None = None
    try:
        catalog = copy_catalog(CATALOG, state / "catalog", prom_url)
        settings = demo_settings(
            base, state, sim.kubeconfig, catalog=catalog, prometheus_url=prom_url
        )
        webapp = sim.service_url("shop", "webapp")
        try:
            running = start(
                settings,
                port=port,
                listeners=[printer],
                environ={"WEBAPP_URL": webapp},
                schedule_override=accelerate(interval),
            )
        except OSError as exc:
            click.echo(f"aftershock: cannot listen on port {port}: {exc} (try --port 0)", err=True)
            return 1
        running.daemon.scheduler_events.subscribe(printer.skipped)
        users = Users(webapp).start()
        kubectl = f"kubectl --kubeconfig {sim.kubeconfig}"
        click.echo(f"status page:  {running.url}/")
        click.echo(f"metrics:      {running.url}/metrics")
        click.echo(f"API:          {running.url}/api/v1/experiments")
        click.echo(f"kubeconfig:   {sim.kubeconfig}  ({kubectl} get pods -A)")
        click.echo(f"history:      {settings.store.path}")
        jobs = {"aftershock": [running.url], "shop": [s.url for s in sim.listeners]}
        prom = _start_prometheus(binary, prom_port, jobs)
        click.echo(
            f"Experiments fire every ~{interval:.0f}s"
            + (f" for {duration:.0f}s" if duration else " until Ctrl-C")
            + "; one line per finished run:"
        )
        if duration:
            timer = threading.Timer(duration, lambda: setattr(running.server, "should_exit", True))
            timer.daemon = True
            timer.start()
        started = time.monotonic()
        serve(running)
        printer.finish(
            [
                "",
                f"{time.monotonic() - started:.0f}s of demo. Where to look next (while a demo "
                "runs; `aftershock demo` without --duration runs until Ctrl-C):",
                f"  status page   {running.url}/",
                f"  metrics       {running.url}/metrics"
                + (f"  (and PromQL at {prom.url}/graph)" if prom else ""),
                f"  pods          {kubectl} get pods -n shop",
                f"  history       {settings.store.path} (SQLite, one journal per run)",
            ]
        )
    finally:
        if users is not None:
            users.stop()
        if prom is not None:
            prom.stop()
        sim.stop()
    click.echo("demo finished")
    return 0
