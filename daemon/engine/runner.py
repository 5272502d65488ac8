"""One run of one experiment, with chaoslib 1.44's semantics and aftershock's additions.

Hypothesis before → method (with the hypothesis during, stop conditions and halt watched
alongside) → hypothesis after → recovery → rollbacks → journal. Chaos Toolkit's `status`
and `deviated` are computed as chaoslib computes them, so a journal compares with
`chaos run`'s; the aftershock `outcome` (DESIGN §8) is stricter and explains itself.
Nothing here raises: every failure becomes a journaled record.
"""

from __future__ import annotations

import copy
import math
import platform
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from daemon import __version__
from daemon.catalog import checks as catalog_checks
from daemon.catalog import providers as provider_registry
from daemon.engine import cordons, providers
from daemon.engine.context import ACTIVITY_CANCELLED, RunContext
from daemon.engine.errors import ActivityFailed, InvalidRun, Unobservable, Unrecorded
from daemon.engine.providers.k8s import Refused
from daemon.engine.providers.prometheus import condition_true
from daemon.engine.redact import redact, redact_journal, sensitive_values
from daemon.engine.substitution import load_configuration, load_secrets, substitute
from daemon.engine.tolerances import within_tolerance

Outcome = str  # passed | deviated | not_steady | refused | failed | aborted
Progress = Callable[[str, dict[str, Any]], None]
BEFORE = ("default", "before-method-only", "continuously")
AFTER = ("default", "after-method-only", "continuously")
DURING = ("during-method-only", "continuously")
MAX_STOP_RECORDS = 200
DISRUPTING_GUARDS = (
    "pods",
    "scale",
    "nodes",
)  # providers a timed-out activity's cancellation waits for


@dataclass
class RunResult:
    journal: dict[str, Any]
    outcome: Outcome
    reason: str


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _failed_record(activity: dict[str, Any], message: str) -> dict[str, Any]:
    """The record of an activity that could not even start (or never reported back)."""
    now = time.time()
    return {
        "activity": activity,
        "output": None,
        "status": "failed",
        "start": _iso(now),
        "end": _iso(now),
        "duration": 0.0,
        "exception": [f"{message}\n"],
    }


def _spawn(fn: Callable[..., Any], *args: Any, token: threading.Event | None = None) -> Future[Any]:
    """Run fn in a *daemon* thread: a provider that hangs must never keep the process alive
    past the shutdown bound (ThreadPoolExecutor workers are joined at interpreter exit).
    `token` is the activity's cancellation, which every disruption in that thread checks."""
    future: Future[Any] = Future()

    def body() -> None:
        if token is not None:
            ACTIVITY_CANCELLED.set(token)
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
            future.set_exception(exc)

    threading.Thread(target=body, name="aftershock-activity", daemon=True).start()
    return future


def wait_seconds(value: Any) -> float:
    """A pause or timeout as a wait the threading module accepts; ValueError (naming the
    value) for what no wait can honour, instead of an OverflowError deep in threading."""
    if value is None or value == 0:
        return 0.0
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{value!r} is not a number of seconds") from None
    if math.isnan(seconds) or seconds < 0 or seconds > threading.TIMEOUT_MAX:
        raise ValueError(f"{value!r} is not a usable number of seconds")
    return seconds


class Runner:
    def __init__(
        self,
        ctx: RunContext,
        experiment: dict[str, Any],
        *,
        var_overrides: dict[str, Any] | None = None,
        secret_overrides: dict[str, dict[str, Any]] | None = None,
        progress: Progress | None = None,
        halted: Callable[[], str | None] | None = None,
    ):
        self.ctx = ctx
        self.experiment = copy.deepcopy(experiment)  # runs never share mutable state
        self.var_overrides = var_overrides or {}
        self.secret_overrides = secret_overrides or {}
        report = progress or (lambda _event, _fields: None)
        self.progress: Progress = lambda event, fields: report(event, self._redact(fields))
        self.halted = halted or (lambda: None)
        # The halt switch closes the gate every disruption asks right before its request, in
        # every phase (rollbacks too), not only the check before each activity (F2).
        gate = ctx.gate
        ctx.gate = lambda: "halted" if self.halted() else gate()
        runtime = self.experiment.get("runtime") or {}
        hypothesis = ctx.aftershock.hypothesis
        runtime_hypothesis = runtime.get("hypothesis") or {}
        self.strategy = hypothesis.strategy or runtime_hypothesis.get("strategy") or "default"
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
        self.rollback_strategy = (
            ctx.aftershock.rollbacks.strategy
            or (runtime.get("rollbacks") or {}).get("strategy")
            or "default"
        )
        self.by_name = self._index()
        self._done = threading.Event()
        self._method_abort = threading.Event()
        self._during_failed = False
        self._method_failed = False
        self._refusal: Refused | None = None
        self._fatal: tuple[Outcome, str] | None = None  # ends the run whatever else happened
        self._rollbacks_played = False

    # ------------------------------------------------------------------ entry point

    def rollbacks_only(self) -> list[dict[str, Any]]:
        """For a run interrupted by a crash: play its rollbacks (unless strategy `never`),
        then take back its cordons (node drills: always, whatever the strategy)."""
        try:
            records = self._rollbacks_only()
        except BaseException:
            cordons.replay_release(self.ctx)  # node drills: always uncordon
            raise
        return records + cordons.replay_release(self.ctx)  # node drills: always uncordon

    def _rollbacks_only(self) -> list[dict[str, Any]]:
        if self.rollback_strategy == "never" or not self.experiment.get("rollbacks"):
            return []
        try:
            self.ctx.configuration = load_configuration(
                self.experiment.get("configuration") or {}, self.ctx.environ, self.var_overrides
            )
            self.ctx.secrets = load_secrets(
                self.experiment.get("secrets") or {}, self.ctx.environ, self.secret_overrides
            )
        except InvalidRun as exc:
            return [_failed_record({"name": "configuration"}, str(exc))]
        rollbacks = self.experiment["rollbacks"]
        try:
            return [self._redact(self._activity(activity, "rollback")) for activity in rollbacks]
        finally:
            self.ctx.over.set()  # an abandoned provider thread sends nothing more

    def run(self) -> RunResult:
        ctx = self.ctx
        started = time.time()
        journal: dict[str, Any] = {
            "chaoslib-version": None,
            "aftershock-version": __version__,
            "platform": platform.platform(),
            "node": platform.node(),
            "experiment": self.experiment,
            "start": _iso(started),
            "status": None,
            "deviated": False,
            "steady_states": {"before": None, "after": None, "during": []},
            "run": [],
            "rollbacks": [],
        }
        ctx.record.update(
            {
                "experiment_id": ctx.experiment_id,
                "run_id": ctx.run_id,
                "seed": ctx.seed,
                "dry_run": ctx.dry_run,
                "strategy": self.strategy,
                "rollback_strategy": self.rollback_strategy,
            }
        )
        try:
            outcome, reason = self._run(journal)
        except Exception as exc:  # noqa: BLE001 - nothing escapes a run (I8)
            outcome, reason = self._crashed(journal, exc)
        ctx.over.set()  # a provider thread still running sends nothing more (F3)
        cordons.end_of_run(ctx)  # node drills: always uncordon (daemon/engine/cordons.py)
        for tracker in ctx.trackers:
            tracker.stop()
        journal["end"] = _iso(time.time())
        journal["duration"] = time.time() - started
        if journal["status"] not in ("completed", "failed", "aborted", "interrupted"):
            journal["status"] = "completed"
        ctx.record["outcome"] = outcome
        ctx.record["reason"] = reason
        journal["aftershock"] = ctx.record
        self.progress(
            "finished",
            {
                "outcome": outcome,
                "reason": reason,
                "status": journal["status"],
                "deviated": journal["deviated"],
            },
        )
        return RunResult(redact_journal(journal, self._needles()), outcome, reason)

    def _needles(self) -> tuple[str, ...]:
        """Secret values to mask (daemon/engine/redact.py) in whatever leaves the run."""
        ctx, raw = self.ctx, self.experiment
        return sensitive_values(
            ctx.secrets,
            ctx.configuration,
            raw.get("configuration"),
            raw_secrets=raw.get("secrets"),
            environ=ctx.environ,
        )

    def _redact(self, value: Any) -> Any:
        return redact(value, self._needles())

    def _crashed(self, journal: dict[str, Any], exc: Exception) -> tuple[Outcome, str]:
        """An unexpected error: the run ends `failed`, its rollbacks played, what it disrupted
        is already recorded (intents)."""
        self.ctx.record["error"] = f"internal error: {type(exc).__name__}: {exc}"
        self.ctx.record["traceback"] = traceback.format_exception(type(exc), exc, exc.__traceback__)
        journal["status"] = "failed"
        self._done.set()
        if not self._rollbacks_played:
            try:
                self._rollbacks(journal, force=True)
            except Exception as again:  # noqa: BLE001 - recorded, the run still ends
                self.ctx.record["rollback_error"] = f"{type(again).__name__}: {again}"
        return "failed", "internal_error"

    def _run(self, journal: dict[str, Any]) -> tuple[Outcome, str]:  # noqa: PLR0912, PLR0915 - the run, in order
        ctx = self.ctx
        try:
            ctx.configuration = load_configuration(
                self.experiment.get("configuration") or {}, ctx.environ, self.var_overrides
            )
            ctx.secrets = load_secrets(
                self.experiment.get("secrets") or {}, ctx.environ, self.secret_overrides
            )
        except InvalidRun as exc:
            journal["status"] = "failed"
            ctx.record["error"] = str(exc)
            return "failed", "invalid_configuration"
        # Values from templates obey the rules the file's literal values obey: before any act.
        invalid = catalog_checks.resolved_problems(
            self.experiment, lambda data: substitute(data, ctx.configuration, ctx.secrets)
        )
        if invalid:
            journal["status"] = "failed"
            ctx.record["error"] = "invalid value after substitution: " + "; ".join(invalid[:20])
            return "failed", "invalid_configuration"
        self.experiment["title"] = substitute(
            self.experiment.get("title"), ctx.configuration, ctx.secrets
        )
        self.progress(
            "started", {"title": self.experiment["title"], "dry_run": ctx.dry_run, "seed": ctx.seed}
        )

        halted = self.halted()
        if halted:
            journal["status"] = "aborted"
            ctx.record["error"] = f"halted: {halted}"
            return "aborted", "halted"
        preflight = self._stop_conditions_once()
        if preflight is not None:
            journal["status"] = "aborted"
            return preflight

        probes = (self.experiment.get("steady-state-hypothesis") or {}).get("probes") or []
        has_ssh = bool(probes)
        not_steady = False
        if has_ssh and self.strategy in BEFORE:
            state = self._hypothesis("before")
            journal["steady_states"]["before"] = state
            if not state["steady_state_met"]:
                journal["status"] = self._status_from(state)
                not_steady = True

        monitor = threading.Thread(target=self._monitor, name="aftershock-monitor", daemon=True)
        during: threading.Thread | None = None
        if not not_steady:
            monitor.start()
            if has_ssh and self.strategy in DURING:
                during = threading.Thread(
                    target=self._during, args=(journal,), name="aftershock-during", daemon=True
                )
                during.start()
            self._method(journal)
            self._done.set()
            if during is not None:
                during.join(timeout=self._bounded(self.frequency + self._probe_budget()))
            if (
                self._during_failed
                and self.fail_fast_ratio is not None
                and journal["status"] is None
            ):
                journal["status"] = "failed"
            interrupted = ctx.stop.is_set()
            if interrupted:
                journal["status"] = "interrupted"
            elif self._refusal is not None or self._fatal is not None:
                journal["status"] = "aborted" if self._fatal is None else "failed"
            elif has_ssh and self.strategy in AFTER:
                state = self._hypothesis("after")
                journal["steady_states"]["after"] = state
                if not state["steady_state_met"]:
                    journal["deviated"] = True
                    journal["status"] = self._status_from(state)
            self._wait_recovery()
        self._rollbacks(journal)
        self._done.set()
        if monitor.is_alive():
            monitor.join(timeout=2)

        if self._fatal is not None:
            return self._fatal
        untracked = self._untracked()
        if untracked:
            ctx.record["error"] = untracked
            return "failed", "recovery_unmeasured"
        if self._refusal is not None and not ctx.budget.injected:
            return "refused", self._refusal.reason  # nothing was injected
        if ctx.stop.is_set():
            return "aborted", ctx.stop_reason
        if self._refusal is not None:
            # Chaos was injected, then the run's budget (or live state) said no more.
            ctx.record["refusal"] = {
                "reason": self._refusal.reason,
                "detail": self._refusal.detail,
            }
            if self._method_failed:
                return "failed", "activity_failed"
            return "aborted", "budget_exhausted"
        if not_steady and journal["status"] == "failed":
            return "failed", "probe_failed"  # an errored probe is no verdict
        if not_steady:
            return "not_steady", "hypothesis_before"
        if self._method_failed:
            return "failed", "activity_failed"
        if journal["status"] == "failed" and not journal["deviated"] and not self._during_failed:
            return "failed", "probe_failed"
        recovery_reason = self._recovery_verdict()
        after = journal["steady_states"]["after"] or {}
        if any(p.get("aftershock_unobservable") for p in after.get("probes") or []):
            # The API did not answer the probe (an outage): no verdict, not a deviation (I10).
            unmeasured = recovery_reason == "recovery_unmeasured"
            return "failed", "recovery_unmeasured" if unmeasured else "probe_failed"
        if journal["deviated"]:
            return "deviated", "hypothesis_after"
        if self._during_failed:
            journal["deviated"] = True
            return "deviated", "hypothesis_during"
        if recovery_reason == "recovery_unmeasured":
            return "failed", recovery_reason
        if recovery_reason:
            return "deviated", recovery_reason
        return "passed", ""

    def _untracked(self) -> str:
        """'' when the journal's `disrupted` holds every disruption the ledger counted (its
        intents, from any activity, timed out or not); else why the run cannot vouch for them."""
        # Not under budget.lock: an abandoned provider may hold it for as long as it hangs.
        spent = self.ctx.budget.ledger.total
        recorded = len(self.ctx.record.get("disrupted", []))
        if spent <= recorded:
            return ""
        return (
            f"{spent} disruption(s) recorded as intents but {recorded} journaled: a provider "
            "was still sending when the run stopped waiting for it; recovery not measured"
        )

    @staticmethod
    def _status_from(state: dict[str, Any]) -> str:
        """chaoslib 1.44: an errored probe fails the run; a tolerance miss leaves it completed."""
        return "failed" if any(p["status"] != "succeeded" for p in state["probes"]) else "completed"

    # ------------------------------------------------------------------ activities

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

    def _probe_budget(self) -> float:
        return self.ctx.settings.engine.activity_timeout.total_seconds() + 5

    def _timeout_for(self, activity: dict[str, Any]) -> float:
        if activity.get("timeout"):
            return float(activity["timeout"])
        provider = substitute(
            copy.deepcopy(activity.get("provider") or {}), self.ctx.configuration, self.ctx.secrets
        )
        seconds = provider_registry.timeout_seconds(provider)  # never raises
        if seconds is not None:
            return seconds
        return self.ctx.settings.engine.activity_timeout.total_seconds()

    def _bounded(self, seconds: float) -> float:
        """A wait cut to the run's deadline (bounded shutdown, I9)."""
        remaining = self.ctx.remaining()
        seconds = wait_seconds(seconds)
        return seconds if remaining is None else min(seconds, remaining)

    def _pause(self, seconds: Any) -> None:
        wait = self._bounded(wait_seconds(seconds))
        if wait > 0:
            self.ctx.stop.wait(wait)

    def _stopped(self, phase: str) -> str | None:
        """Checked right before every provider call, after the pauses (I5): a reason not to
        call it. Rollbacks are exempt: they undo chaos and must run on a stopped run."""
        ctx = self.ctx
        if phase == "rollback":
            return None
        if ctx.stop.is_set():
            return ctx.stop_reason or "stopped"
        halted = self.halted()
        if halted:
            ctx.request_stop("halted", halted)
            return "halted"
        closed = ctx.gate()
        if closed:
            ctx.request_stop(closed, "checked before the activity")
            return closed
        if phase == "method" and ctx.aftershock.stop_conditions:
            verdict = self._stop_conditions_once()
            if verdict is not None:
                ctx.request_stop(verdict[1], "checked before the activity")
                return verdict[1]
        return None

    def _activity(
        self, activity: dict[str, Any], phase: str, extra_arguments: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run one activity and return its chaoslib-shaped record; never raises."""
        try:
            return self._activity_unsafe(activity, phase, extra_arguments)
        except Exception as exc:  # noqa: BLE001 - e.g. a bad timeout or pause value
            record = _failed_record(activity, f"aftershock: {type(exc).__name__}: {exc}")
            record["exception"] = traceback.format_exception(type(exc), exc, exc.__traceback__)
            return record

    def _activity_unsafe(
        self, activity: dict[str, Any], phase: str, extra_arguments: dict[str, Any] | None
    ) -> dict[str, Any]:
        ctx = self.ctx
        if "ref" in activity:
            resolved = self.by_name.get(activity["ref"])
            if resolved is None:
                return _failed_record(
                    activity, f"could not find referenced activity '{activity['ref']}'"
                )
            activity = resolved
        pauses = activity.get("pauses") or {}
        try:
            self._pause(pauses.get("before"))
        except ValueError as exc:  # nothing was done yet
            return _failed_record(activity, f"aftershock: pauses.before: {exc}")
        stopped = self._stopped(phase)
        if stopped:
            skipped = _failed_record(activity, f"aftershock.Stopped: not run: {stopped}")
            skipped["aftershock_skipped"] = stopped
            return skipped
        self.progress(
            "activity", {"phase": phase, "type": activity.get("type"), "name": activity.get("name")}
        )
        provider = substitute(
            copy.deepcopy(activity.get("provider") or {}), ctx.configuration, ctx.secrets
        )
        invalid = provider_registry.resolved_problems(
            provider,
            as_probe=activity.get("type") == "probe" or phase not in ("method", "rollback"),
        )
        if invalid:  # the same rules as `validate`, on the resolved values: no provider call
            self.progress("activity_failed", {"name": activity.get("name"), "error": invalid[0]})
            return _failed_record(activity, "invalid value: " + "; ".join(invalid))
        if extra_arguments:
            provider.setdefault("arguments", {}).update(extra_arguments)
        wanted = wait_seconds(self._timeout_for(activity))
        timeout = self._bounded(wanted)
        start = time.time()
        record: dict[str, Any] = {"activity": copy.deepcopy(activity), "output": None}
        record.update(self._invoke(provider, timeout, wanted, phase, activity.get("name")))
        end = time.time()
        record.update({"start": _iso(start), "end": _iso(end), "duration": end - start})
        if record["status"] == "failed":
            self.progress(
                "activity_failed",
                {"name": activity.get("name"), "error": record["exception"][-1].strip()},
            )
        if self._refusal is None and self._fatal is None:  # a refused run has nothing to wait for
            try:
                self._pause(pauses.get("after"))
            except ValueError as exc:  # the act is done: keep its record, say why it failed
                record["status"] = "failed"
                record.setdefault("exception", []).append(f"aftershock: pauses.after: {exc}\n")
        return record

    def _invoke(
        self, provider: dict[str, Any], timeout: float, wanted: float, phase: str, name: Any
    ) -> dict[str, Any]:
        """The provider call itself, in a daemon thread, and what its failure means."""
        ctx = self.ctx
        token = threading.Event()
        future = _spawn(providers.call, ctx, provider, timeout, token=token)
        try:
            return {"output": future.result(timeout=timeout), "status": "succeeded"}
        except FutureTimeout:
            finished = self._cancel(future, token, provider)
            if timeout < wanted or not finished:
                ctx.append("abandoned", {"phase": phase, "activity": name})
                why = (
                    f"abandoned after {timeout:.1f}s: the run's shutdown bound was reached"
                    if timeout < wanted
                    else f"timed out after {timeout:.1f}s and still running once cancelled"
                )
                return {"status": "failed", "exception": [f"aftershock.Abandoned: {why}\n"]}
            return {
                "status": "failed",
                "exception": [
                    "chaoslib.exceptions.ActivityFailed: activity took too long to complete\n"
                ],
            }
        except Refused as exc:
            self._refusal = exc
            return {"status": "failed", "exception": [f"aftershock.Refused: {exc}\n"]}
        except Unrecorded as exc:
            self._fatal = ("failed", "history_unavailable")
            ctx.record["error"] = str(exc)
            self._method_abort.set()
            return {"status": "failed", "exception": [f"aftershock.Unrecorded: {exc}\n"]}
        except ActivityFailed as exc:
            return {
                "status": "failed",
                "exception": [f"chaoslib.exceptions.ActivityFailed: {exc}\n"],
                **({"aftershock_unobservable": True} if isinstance(exc, Unobservable) else {}),
            }
        except Exception as exc:  # noqa: BLE001 - a provider bug must not escape a run
            return {
                "status": "failed",
                "exception": traceback.format_exception(type(exc), exc, exc.__traceback__),
            }

    def _cancel_grace(self) -> float:
        """How long a cancelled provider may take to finish: its in-flight request, reading
        the answer back (one request timeout each), and a second to record it."""
        kube = self.ctx.kube
        return 2 * (kube.timeout if kube is not None else 0.0) + 1.0

    def _cancel(
        self, future: Future[Any], token: threading.Event, provider: dict[str, Any]
    ) -> bool:
        """A timed-out activity: its provider thread sends nothing more (the token is checked
        right before every disruption) and, for a provider that disrupts (guard `pods` or
        `scale`), the run waits for its in-flight request, so what it disrupted is journaled
        and tracked. False: it did not finish in time (abandoned; what it disrupted is
        untracked, which the verdict says: see _untracked)."""
        token.set()
        spec = provider_registry.spec_for(provider)
        if spec is None or spec.guard not in DISRUPTING_GUARDS:
            return True  # it cannot disrupt: chaoslib's rule, the run moves on
        try:
            future.exception(timeout=self._bounded(self._cancel_grace()))
        except FutureTimeout:
            return False
        return True

    def _method(self, journal: dict[str, Any]) -> None:
        runs: list[dict[str, Any]] = journal["run"]
        background: list[tuple[dict[str, Any], Future[dict[str, Any]]]] = []
        for activity in self.experiment.get("method") or []:
            if self.ctx.stop.is_set() or self._method_abort.is_set() or self._refusal is not None:
                break
            if activity.get("background"):
                background.append((activity, _spawn(self._activity, activity, "method")))
                continue
            record = self._activity(activity, "method")
            runs.append(record)
            if record["status"] != "succeeded" and self._refusal is None:
                self._method_failed = True
        for activity, future in background:
            pauses = activity.get("pauses") or {}
            try:
                allowed = (
                    wait_seconds(self._timeout_for(activity))
                    + wait_seconds(pauses.get("before"))
                    + wait_seconds(pauses.get("after"))
                    + self._cancel_grace()
                    + 10
                )
            except ValueError:
                allowed = threading.TIMEOUT_MAX  # the activity itself reports the bad value
            try:
                record = future.result(timeout=self._bounded(allowed))
            except FutureTimeout:
                record = _failed_record(activity, "background activity did not finish in time")
            runs.append(record)
            if record["status"] != "succeeded" and self._refusal is None:
                self._method_failed = True

    def _hypothesis(self, phase: str) -> dict[str, Any]:
        ctx = self.ctx
        hypothesis = self.experiment.get("steady-state-hypothesis") or {}
        state: dict[str, Any] = {"steady_state_met": None, "probes": []}
        self.progress("hypothesis", {"phase": phase, "title": hypothesis.get("title")})
        for probe in hypothesis.get("probes") or []:
            resolved = self.by_name.get(probe["ref"], probe) if "ref" in probe else probe
            run = self._activity(probe, f"hypothesis {phase}")
            state["probes"].append(run)
            if run["status"] == "failed":
                run["tolerance_met"] = False
                state["steady_state_met"] = False
                break
            met, why = within_tolerance(
                resolved.get("tolerance"),
                run["output"],
                configuration=ctx.configuration,
                secrets=ctx.secrets,
                run_probe=self._tolerance_probe,
            )
            run["tolerance_met"] = met
            if not met:
                run["aftershock_tolerance"] = why
                state["steady_state_met"] = False
                break
        else:
            state["steady_state_met"] = True
        self.progress("hypothesis_result", {"phase": phase, "met": state["steady_state_met"]})
        self.ctx.append(
            "hypothesis_checks",
            {
                "phase": phase,
                "met": state["steady_state_met"],
                "errored": any(p["status"] == "failed" for p in state["probes"]),
            },
        )
        return state

    def _tolerance_probe(self, tolerance: dict[str, Any], value: Any) -> Any:
        record = self._activity(tolerance, "tolerance", {"value": value})
        if record["status"] != "succeeded":
            raise ActivityFailed(record["exception"][-1])
        return record["output"]

    def _during(self, journal: dict[str, Any]) -> None:
        failures, iteration = 0, 0
        while not self._done.is_set() and not self.ctx.stop.is_set():
            iteration += 1
            state = self._hypothesis("during")
            journal["steady_states"]["during"].append(state)
            if not state["steady_state_met"]:
                failures += 1
                self._during_failed = True
                ratio = failures / iteration
                if self.fail_fast_ratio is not None and ratio >= self.fail_fast_ratio:
                    self._method_abort.set()
                    return
            self._done.wait(self.frequency)

    # ------------------------------------------------------------------ stop conditions, halt

    def _stop_conditions_once(self) -> tuple[Outcome, str] | None:
        """Before injecting: a true condition aborts; no Prometheus answer refuses (fail safe)."""
        ctx = self.ctx
        for condition in ctx.aftershock.stop_conditions:
            verdict = self._evaluate(condition.query)
            if verdict == "true":
                return "aborted", "stop_condition"
            if verdict == "unavailable" and not ctx.settings.safety.stop_conditions_fail_open:
                return "refused", "stop_conditions_unavailable"
        return None

    def _evaluate(self, query: str) -> str:
        ctx = self.ctx
        url = ctx.settings.prometheus.url or ctx.configuration.get("prometheus_base_url")
        record: dict[str, Any] = {"query": query, "at": _iso(time.time())}
        if not url:
            record.update(
                result="unavailable", detail="no Prometheus URL (settings prometheus.url)"
            )
        else:
            try:
                true, detail = condition_true(
                    str(url), query, ctx.settings.prometheus.timeout.total_seconds()
                )
                record.update(result="true" if true else "false", detail=detail)
            except ActivityFailed as exc:
                record.update(result="unavailable", detail=str(exc))
        if (
            len(ctx.record.get("stop_conditions", [])) < MAX_STOP_RECORDS
            or record["result"] != "false"
        ):
            ctx.append("stop_conditions", record)
        return str(record["result"])

    def _monitor(self) -> None:
        """During the run: the halt switch every second, stop conditions every interval."""
        ctx = self.ctx
        interval = ctx.settings.safety.stop_condition_interval.total_seconds()
        next_check = time.monotonic() + interval
        while not self._done.wait(min(1.0, interval)):
            halted = self.halted()
            if halted:
                ctx.request_stop("halted", halted)
                return
            if ctx.aftershock.stop_conditions and time.monotonic() >= next_check:
                next_check = time.monotonic() + interval
                for condition in ctx.aftershock.stop_conditions:
                    verdict = self._evaluate(condition.query)
                    if verdict == "true":
                        ctx.request_stop("stop_condition", condition.query)
                        return
                    if (
                        verdict == "unavailable"
                        and not ctx.settings.safety.stop_conditions_fail_open
                    ):
                        ctx.request_stop("stop_conditions_unavailable", condition.query)
                        return

    # ------------------------------------------------------------------ recovery, rollbacks

    def _wait_recovery(self) -> None:
        results = []
        for tracker in self.ctx.trackers:
            if self.ctx.stop.is_set():
                tracker.stop()
            remaining = self.ctx.remaining()
            results.append(tracker.wait(None if remaining is None else remaining))
        self.ctx.record["recovery"] = [r.as_json() for r in results]
        for result in results:
            self.progress("recovery", result.as_json())

    def _recovery_verdict(self) -> str:
        slo = self.ctx.aftershock.recovery.slo
        for result in self.ctx.record.get("recovery", []):
            if not result.get("observed", True) or (
                result["error"] and result["measured"] and not result["recovered"]
            ):
                return "recovery_unmeasured"  # outage, forbidden, gone: we cannot vouch for it
        for result in self.ctx.record.get("recovery", []):
            if result["timed_out"]:
                return "recovery_timeout"
        for result in self.ctx.record.get("recovery", []):
            seconds = result["recovery_seconds"]
            if slo is not None and seconds is not None and seconds > slo.total_seconds():
                return "recovery_slo"
        return ""

    def _rollbacks(self, journal: dict[str, Any], *, force: bool = False) -> None:
        self._rollbacks_played = True
        strategy = self.rollback_strategy
        status = journal["status"]
        # Deliberate deviation from chaoslib: when aftershock itself stopped the run (stop
        # condition, halt, shutdown), `default` still plays rollbacks: chaos must not stay behind.
        stopped_by_us = self.ctx.stop.is_set()
        play = (
            (force and strategy != "never")
            or strategy == "always"
            or (
                strategy == "default" and (status not in ("failed", "interrupted") or stopped_by_us)
            )
            or (strategy == "deviated" and journal["deviated"])
        )
        if not play or not self.experiment.get("rollbacks"):
            return
        self.progress("rollbacks", {"strategy": strategy})
        ctx = self.ctx
        stopped = ctx.stop.is_set()
        why = (ctx.stop_reason, ctx.stop_detail)
        if stopped:  # rollbacks must run even when the run was stopped (disruptions still ask
            ctx.stop.clear()  # the gate right before their request: see disruption_blocked)
        try:
            for activity in self.experiment.get("rollbacks") or []:
                journal["rollbacks"].append(self._activity(activity, "rollback"))
        finally:
            if stopped:  # the run stopped for its first reason, whatever rollbacks met
                with ctx.lock:
                    ctx.stop_reason, ctx.stop_detail = why
                    ctx.stop.set()
