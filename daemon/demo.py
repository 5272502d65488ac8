"""`aftershock demo`: the demo catalog, on accelerated schedules, against the simulator.

Everything a newcomer needs to see in a minute: passed and deviated runs, refusals with
their reasons, recovery times, the status page and the metrics, with no cluster at hand.
The real daemon runs (leader election, history, API); only the schedules are sped up and
the global safety settings loosened so the seed-001 story (one greeter) can unfold.
"""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from daemon.catalog.extension import Schedule
from daemon.listeners import CallbackListener, RunEnded
from daemon.logging import get_logger
from daemon.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_FILE = ROOT / "config" / "demo" / "cluster.yaml"
CATALOG = ROOT / "config" / "experiments"
log = get_logger("aftershock.demo")


def demo_settings(base: Settings, state_dir: Path, kubeconfig: Path) -> Settings:
    def group(name: str, **values: Any) -> Any:
        return getattr(base, name).model_copy(update=values)

    return base.model_copy(
        update={
            "safety": group(
                "safety",
                dry_run=False,
                max_percent=100.0,
                min_ready_replicas=0,
                cooldown=timedelta(seconds=20),
            ),
            "catalog": group("catalog", path=CATALOG, reload_interval=timedelta(seconds=1)),
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
            "prometheus": group("prometheus", url=None),
        }
    )


def accelerate(interval: float) -> Any:
    """Every schedule becomes `interval` s (+ a per-experiment offset), no windows."""
    offsets: dict[str, float] = {}

    def override(experiment_id: str, schedule: Schedule) -> Schedule:
        offset = offsets.setdefault(experiment_id, 1.5 * len(offsets))
        return Schedule.model_validate(
            {"interval": f"{interval + offset:.1f}s", "jitter": "1s", "timezone": schedule.timezone}
        )

    return override


def _summary(experiment_id: str, journal: dict[str, Any]) -> str:
    record = journal.get("aftershock") or {}
    parts = [f"{experiment_id}: {record.get('outcome')}"]
    if record.get("reason"):
        parts.append(f"({record['reason']})")
    killed = [d["pod"] for d in record.get("disrupted", [])]
    if killed:
        parts.append("killed " + ", ".join(killed))
    for recovery in record.get("recovery", []):
        if recovery.get("recovery_seconds") is not None:
            parts.append(f"recovered {recovery['name']} in {recovery['recovery_seconds']:.2f}s")
        elif recovery.get("timed_out"):
            parts.append(f"{recovery['name']} did not recover in time")
    return " ".join(parts)


def run_demo(base: Settings, *, duration: float, port: int, interval: float) -> int:
    from daemon.server import serve, start
    from daemon.simulator.runner import SimulatedCluster

    if not CLUSTER_FILE.exists() or not CATALOG.is_dir():
        click.echo(f"aftershock: the demo needs {CLUSTER_FILE} and {CATALOG}", err=True)
        return 2
    state = Path(tempfile.mkdtemp(prefix="aftershock-demo-"))
    sim = SimulatedCluster.from_file(CLUSTER_FILE, kubeconfig=state / "kubeconfig")
    sim.start()
    try:
        settings = demo_settings(base, state, sim.kubeconfig)
        environ = {"WEBAPP_URL": sim.service_url("shop", "webapp")}

        def print_run(run: RunEnded) -> None:
            click.echo(f"{time.strftime('%H:%M:%S')}  {_summary(run.experiment_id, run.journal)}")

        try:
            running = start(
                settings,
                port=port,
                listeners=[CallbackListener("demo-printer", print_run)],
                environ=environ,
                schedule_override=accelerate(interval),
            )
        except OSError as exc:
            click.echo(f"aftershock: cannot listen on port {port}: {exc} (try --port 0)", err=True)
            return 1
        click.echo(f"status page:  {running.url}/")
        click.echo(f"metrics:      {running.url}/metrics")
        click.echo(f"API:          {running.url}/api/v1/experiments")
        click.echo(
            f"kubeconfig:   {sim.kubeconfig}  (kubectl --kubeconfig {sim.kubeconfig} get pods -A)"
        )
        click.echo(f"history:      {settings.store.path}")
        click.echo(
            f"Experiments fire every ~{interval:.0f}s"
            + (f" for {duration:.0f}s" if duration else " until Ctrl-C")
            + "; one line per finished run:"
        )
        if duration:
            timer = threading.Timer(duration, lambda: setattr(running.server, "should_exit", True))
            timer.daemon = True
            timer.start()
        serve(running)
    finally:
        sim.stop()
    click.echo("demo finished")
    return 0
