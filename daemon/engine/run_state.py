"""What the parts of one run share: the context, the experiment, its strategies, and the
facts the verdict reads (daemon/engine/verdict.py). One object, owned by one `Runner`."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from daemon.catalog import providers as provider_registry
from daemon.engine.context import RunContext
from daemon.engine.providers.k8s import Refused
from daemon.engine.redact import redact, sensitive_values
from daemon.engine.substitution import load_configuration, load_secrets, substitute
from daemon.engine.threads import wait_seconds
from daemon.outcomes import Outcome

Progress = Callable[[str, dict[str, Any]], None]


class RunState:
    """The run's settings (resolved once from the file and its aftershock section), its
    events (`done`, `method_abort`) and the flags the parts set as the run goes."""

    def __init__(
        self,
        ctx: RunContext,
        experiment: dict[str, Any],
        *,
        progress: Progress,
        halted: Callable[[], str | None],
        var_overrides: dict[str, Any] | None = None,
        secret_overrides: dict[str, dict[str, Any]] | None = None,
    ):
        self.ctx = ctx
        self.experiment = experiment
        self.var_overrides = var_overrides or {}
        self.secret_overrides = secret_overrides or {}
        self.halted = halted
        self.progress: Progress = lambda event, fields: progress(event, self.redact(fields))
        runtime = experiment.get("runtime") or {}
        hypothesis = ctx.aftershock.hypothesis
        runtime_hypothesis = runtime.get("hypothesis") or {}
        self.strategy: str = hypothesis.strategy or runtime_hypothesis.get("strategy") or "default"
        self.frequency = (
            hypothesis.frequency.total_seconds()
            if hypothesis.frequency
            else float(runtime_hypothesis.get("freq") or 1.0)
        )
        fail_fast = (
            hypothesis.fail_fast
            if hypothesis.fail_fast is not None
            else runtime_hypothesis.get("fail_fast")
        )
        self.fail_fast_ratio = (
            None if fail_fast in (None, False) else (0.0 if fail_fast is True else float(fail_fast))
        )
        self.rollback_strategy: str = (
            ctx.aftershock.rollbacks.strategy
            or (runtime.get("rollbacks") or {}).get("strategy")
            or "default"
        )
        self.by_name = self._index()
        self.done = threading.Event()  # the method is over: `during` and the monitor stop
        self.method_abort = threading.Event()  # fail_fast, or the history is unavailable
        self.during_failed = False
        self.method_failed = False
        self.refusal: Refused | None = None
        self.fatal: tuple[Outcome, str] | None = None  # ends the run whatever else happened
        self.rollbacks_played = False
        self.unplayable = ""  # why a replay's rollbacks could not even be loaded

    def _index(self) -> dict[str, dict[str, Any]]:
        index: dict[str, dict[str, Any]] = {}
        hypothesis = self.experiment.get("steady-state-hypothesis") or {}
        for activity in [
            *(hypothesis.get("probes") or []),
            *(self.experiment.get("method") or []),
            *(self.experiment.get("rollbacks") or []),
        ]:
            if "name" in activity:
                index.setdefault(activity["name"], activity)
        return index

    def load(self) -> None:
        """The run's configuration and secrets, from the file, the environment and the
        overrides; InvalidRun (naming what is missing) before anything is done."""
        ctx = self.ctx
        ctx.configuration = load_configuration(
            self.experiment.get("configuration") or {}, ctx.environ, self.var_overrides
        )
        ctx.secrets = load_secrets(
            self.experiment.get("secrets") or {}, ctx.environ, self.secret_overrides
        )

    # ------------------------------------------------------------------ secrets

    def needles(self) -> tuple[str, ...]:
        """Secret values to mask (daemon/engine/redact.py) in whatever leaves the run."""
        ctx, raw = self.ctx, self.experiment
        return sensitive_values(
            ctx.secrets,
            ctx.configuration,
            raw.get("configuration"),
            raw_secrets=raw.get("secrets"),
            environ=ctx.environ,
        )

    def redact(self, value: Any) -> Any:
        return redact(value, self.needles())

    # ------------------------------------------------------------------ waits

    def probe_budget(self) -> float:
        return self.ctx.settings.engine.activity_timeout.total_seconds() + 5

    def timeout_for(self, activity: dict[str, Any]) -> float:
        """The activity's own `timeout`, else its provider's rule (the registry), else the
        engine's default."""
        if activity.get("timeout"):
            return float(activity["timeout"])
        provider = substitute(
            copy.deepcopy(activity.get("provider") or {}), self.ctx.configuration, self.ctx.secrets
        )
        seconds = provider_registry.timeout_seconds(provider)  # never raises
        if seconds is not None:
            return seconds
        return self.ctx.settings.engine.activity_timeout.total_seconds()

    def bounded(self, seconds: float) -> float:
        """A wait cut to the run's deadline (bounded shutdown, I9)."""
        remaining = self.ctx.remaining()
        seconds = wait_seconds(seconds)
        return seconds if remaining is None else min(seconds, remaining)

    def pause(self, seconds: Any) -> None:
        """Until the pause is over or the run stops. In slices: a signal handler runs only
        in the main thread and only between waits, so one long wait could hold SIGTERM
        back for the whole pause (seen once under load: 30 s)."""
        end = time.monotonic() + self.bounded(wait_seconds(seconds))
        while (left := end - time.monotonic()) > 0 and not self.ctx.stop.wait(min(left, 0.25)):
            pass

    def cancel_grace(self) -> float:
        """How long a cancelled provider may take to finish: its in-flight request, reading
        the answer back (one request timeout each), and a second to record it."""
        kube = self.ctx.kube
        return 2 * (kube.timeout if kube is not None else 0.0) + 1.0
