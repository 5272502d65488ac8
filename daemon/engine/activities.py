"""One activity, as chaoslib runs it: pauses, the checks right before the call (I5), the
provider in its own thread under a timeout, cancellation when it overruns, and what each
failure means for the run. Also the method: activities in order, background ones joined."""

from __future__ import annotations

import copy
import threading
import time
import traceback
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from daemon.catalog import providers as provider_registry
from daemon.engine import providers
from daemon.engine.errors import ActivityFailed, Unobservable, Unrecorded
from daemon.engine.providers.k8s import Refused
from daemon.engine.run_state import RunState
from daemon.engine.stop_monitor import StopMonitor
from daemon.engine.substitution import substitute
from daemon.engine.threads import failed_record, iso, spawn, wait_cut, wait_seconds
from daemon.outcomes import Outcome

# Providers a timed-out activity's cancellation waits for.
DISRUPTING_GUARDS = ("pods", "scale", "nodes")
# At shutdown, the part of the time left that a cancelled provider may take to answer; the
# rest is kept for the rollbacks that restore (a scale back up, an uncordon).
CANCEL_SHARE = 0.5


class Activities:
    def __init__(self, state: RunState, stops: StopMonitor):
        self.state = state
        self.stops = stops

    def run(
        self, activity: dict[str, Any], phase: str, extra_arguments: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run one activity and return its chaoslib-shaped record; never raises."""
        try:
            return self._run(activity, phase, extra_arguments)
        except Exception as exc:  # noqa: BLE001 - e.g. a bad timeout or pause value
            record = failed_record(activity, f"aftershock: {type(exc).__name__}: {exc}")
            record["exception"] = traceback.format_exception(type(exc), exc, exc.__traceback__)
            return record

    def _stopped(self, phase: str) -> str | None:
        """Checked right before every provider call, after the pauses (I5): a reason not to
        call it. Rollbacks are exempt: they undo chaos and must run on a stopped run."""
        ctx = self.state.ctx
        if phase == "rollback":
            return None
        if ctx.stop.is_set():
            return ctx.stop_reason or "stopped"
        halted = self.state.halted()
        if halted:
            ctx.request_stop("halted", halted)
            return "halted"
        closed = ctx.disruption_check()
        if closed:
            ctx.request_stop(closed, "checked before the activity")
            return closed
        if phase == "method" and ctx.aftershock.stop_conditions:
            verdict = self.stops.once()
            if ctx.stop.is_set():  # stopped while the conditions were read (the check was cut)
                return ctx.stop_reason or "stopped"
            if verdict is not None:
                ctx.request_stop(verdict[1], "checked before the activity")
                return verdict[1]
        return None

    def _run(
        self, activity: dict[str, Any], phase: str, extra_arguments: dict[str, Any] | None
    ) -> dict[str, Any]:
        state, ctx = self.state, self.state.ctx
        if "ref" in activity:
            resolved = state.by_name.get(activity["ref"])
            if resolved is None:
                return failed_record(
                    activity, f"could not find referenced activity '{activity['ref']}'"
                )
            activity = resolved
        pauses = activity.get("pauses") or {}
        try:
            state.pause(pauses.get("before"))
        except ValueError as exc:  # nothing was done yet
            return failed_record(activity, f"aftershock: pauses.before: {exc}")
        stopped = self._stopped(phase)
        if stopped:
            skipped = failed_record(activity, f"aftershock.Stopped: not run: {stopped}")
            skipped["aftershock_skipped"] = stopped
            return skipped
        state.progress(
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
            state.progress("activity_failed", {"name": activity.get("name"), "error": invalid[0]})
            return failed_record(activity, "invalid value: " + "; ".join(invalid))
        if extra_arguments:
            provider.setdefault("arguments", {}).update(extra_arguments)
        wanted = wait_seconds(state.timeout_for(activity))
        timeout = state.bounded(wanted)
        start = time.time()
        record: dict[str, Any] = {"activity": copy.deepcopy(activity), "output": None}
        record.update(self._invoke(provider, timeout, wanted, phase, activity.get("name")))
        end = time.time()
        record.update({"start": iso(start), "end": iso(end), "duration": end - start})
        if record["status"] == "failed":
            state.progress(
                "activity_failed",
                {"name": activity.get("name"), "error": record["exception"][-1].strip()},
            )
        if state.refusal is None and state.fatal is None:  # a refused run has nothing to wait for
            try:
                state.pause(pauses.get("after"))
            except ValueError as exc:  # the act is done: keep its record, say why it failed
                record["status"] = "failed"
                record.setdefault("exception", []).append(f"aftershock: pauses.after: {exc}\n")
        return record

    def _invoke(
        self, provider: dict[str, Any], timeout: float, wanted: float, phase: str, name: Any
    ) -> dict[str, Any]:
        """The provider call itself, in a daemon thread, and what its failure means."""
        ctx = self.state.ctx
        token = threading.Event()
        began = time.monotonic()
        future = spawn(providers.call, ctx, provider, timeout, token=token)
        # Outside the rollbacks (which must still play) a stop abandons the pending activity
        # at once (docs/running.md); the shutdown bound cuts every wait, rollbacks' too.
        cut = wait_cut(future, ctx, began + timeout, on_stop=phase != "rollback")
        if cut is None:
            return self._answer(future)
        finished = self._cancel(future, token, provider)
        waited = time.monotonic() - began
        if cut not in ("timeout", "deadline") and finished and future.done():
            return self._answer(future)  # stopped: a disrupting provider met the closed gate
        if cut == "timeout" and timeout >= wanted and finished:
            return {
                "status": "failed",
                "exception": [
                    "chaoslib.exceptions.ActivityFailed: activity took too long to complete\n"
                ],
            }
        ctx.append("abandoned", {"phase": phase, "activity": name})
        why = {
            "deadline": f"abandoned after {waited:.1f}s: the run's shutdown bound was reached",
            "timeout": f"abandoned after {timeout:.1f}s: the run's shutdown bound was reached"
            if timeout < wanted
            else f"timed out after {timeout:.1f}s and still running once cancelled",
        }.get(cut, f"abandoned after {waited:.1f}s: the run was stopped ({cut})")
        return {"status": "failed", "exception": [f"aftershock.Abandoned: {why}\n"]}

    def _answer(self, future: Future[Any]) -> dict[str, Any]:
        """A finished provider call's record: its output, or what its failure means."""
        state, ctx = self.state, self.state.ctx
        try:
            return {"output": future.result(), "status": "succeeded"}
        except FutureTimeout:  # the provider's own TimeoutError: as chaoslib, a timeout
            return {
                "status": "failed",
                "exception": [
                    "chaoslib.exceptions.ActivityFailed: activity took too long to complete\n"
                ],
            }
        except Refused as exc:
            state.refusal = exc
            return {"status": "failed", "exception": [f"aftershock.Refused: {exc}\n"]}
        except Unrecorded as exc:
            state.fatal = (Outcome.FAILED, "history_unavailable")
            ctx.record["error"] = str(exc)
            state.method_abort.set()
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

    def _cancel(
        self, future: Future[Any], token: threading.Event, provider: dict[str, Any]
    ) -> bool:
        """A timed-out activity: its provider thread sends nothing more (the token is checked
        right before every disruption) and, for a provider that disrupts (guard `pods` or
        `scale`), the run waits for its in-flight request, so what it disrupted is journaled
        and tracked. False: it did not finish in time (abandoned; what it disrupted is
        untracked, which the verdict says: see verdict.untracked)."""
        token.set()
        spec = provider_registry.spec_for(provider)
        if spec is None or spec.guard not in DISRUPTING_GUARDS:
            return True  # it cannot disrupt: chaoslib's rule, the run moves on
        # Sliced: a shutdown bound set during the grace (SIGTERM) cuts it too, and the grace
        # takes at most half of the time left before it: the rest is the rollbacks'.
        limit = time.monotonic() + self.state.cancel_grace()
        return wait_cut(future, self.state.ctx, limit, on_stop=False, share=CANCEL_SHARE) is None

    # ------------------------------------------------------------------ the method

    def method(self, journal: dict[str, Any]) -> None:
        """The method's activities in order until one is refused, the run stops or fail_fast
        aborts it; background activities are joined (bounded) at the end."""
        state = self.state
        runs: list[dict[str, Any]] = journal["run"]
        background: list[tuple[dict[str, Any], Future[dict[str, Any]]]] = []
        for activity in state.experiment.get("method") or []:
            if state.ctx.stop.is_set() or state.method_abort.is_set() or state.refusal is not None:
                break
            if activity.get("background"):
                background.append((activity, spawn(self.run, activity, "method")))
                continue
            record = self.run(activity, "method")
            runs.append(record)
            if record["status"] != "succeeded" and state.refusal is None:
                state.method_failed = True
        for activity, future in background:
            pauses = activity.get("pauses") or {}
            try:
                allowed = (
                    wait_seconds(state.timeout_for(activity))
                    + wait_seconds(pauses.get("before"))
                    + wait_seconds(pauses.get("after"))
                    + state.cancel_grace()
                    + 10
                )
            except ValueError:
                allowed = threading.TIMEOUT_MAX  # the activity itself reports the bad value
            try:
                record = future.result(timeout=state.bounded(allowed))
            except FutureTimeout:
                record = failed_record(activity, "background activity did not finish in time")
            runs.append(record)
            if record["status"] != "succeeded" and state.refusal is None:
                state.method_failed = True
