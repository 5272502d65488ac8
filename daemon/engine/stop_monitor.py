"""Stop conditions and the halt switch: checked before the run, before each method activity,
and by a monitor thread alongside the method. Unanswerable conditions fail safe (refuse or
stop) unless the operator set `safety.stop_conditions_fail_open`."""

from __future__ import annotations

import time

from daemon.engine.errors import ActivityFailed
from daemon.engine.providers.prometheus import condition_true
from daemon.engine.run_state import RunState
from daemon.engine.threads import iso, spawn, wait_cut
from daemon.outcomes import Outcome
from daemon.records import StopConditionCheck

MAX_STOP_RECORDS = 200  # `false` answers journaled per run; true/unavailable always are


class StopMonitor:
    def __init__(self, state: RunState):
        self.state = state

    def once(self) -> tuple[Outcome, str] | None:
        """Before injecting: a true condition aborts; no Prometheus answer refuses (fail safe)."""
        ctx = self.state.ctx
        for condition in ctx.aftershock.stop_conditions:
            verdict = self.evaluate(condition.query)
            if verdict == "true":
                return Outcome.ABORTED, "stop_condition"
            if verdict == "unavailable" and not ctx.settings.safety.stop_conditions_fail_open:
                return Outcome.REFUSED, "stop_conditions_unavailable"
        return None

    def evaluate(self, query: str) -> str:
        """The answer, "true", "false" or "unavailable"; journaled in `stop_conditions`."""
        ctx = self.state.ctx
        url = ctx.settings.prometheus.url or ctx.configuration.get("prometheus_base_url")
        check = StopConditionCheck(query=query, at=iso(time.time()))
        if not url:
            check.result, check.detail = (
                "unavailable",
                "no Prometheus URL (settings prometheus.url)",
            )
        else:
            timeout = ctx.settings.prometheus.timeout.total_seconds()
            answer = spawn(condition_true, str(url), query, timeout)
            cut = wait_cut(answer, ctx, time.monotonic() + timeout + 1.0)  # a stop cuts it
            try:
                if cut is not None:
                    raise ActivityFailed(f"not answered: the check was cut ({cut})")  # noqa: TRY301
                true, detail = answer.result()
                check.result, check.detail = ("true" if true else "false"), detail
            except ActivityFailed as exc:
                check.result, check.detail = "unavailable", str(exc)
        if len(ctx.record.get("stop_conditions", [])) < MAX_STOP_RECORDS or check.result != "false":
            ctx.append("stop_conditions", check.to_json())
        return str(check.result)

    def watch(self) -> None:
        """The monitor thread, during the run: the halt switch every second, stop conditions
        every interval; the first that fires stops the run (ctx.request_stop)."""
        state, ctx = self.state, self.state.ctx
        interval = ctx.settings.safety.stop_condition_interval.total_seconds()
        next_check = time.monotonic() + interval
        while not state.done.wait(min(1.0, interval)):
            halted = state.halted()
            if halted:
                ctx.request_stop("halted", halted)
                return
            if ctx.aftershock.stop_conditions and time.monotonic() >= next_check:
                next_check = time.monotonic() + interval
                for condition in ctx.aftershock.stop_conditions:
                    verdict = self.evaluate(condition.query)
                    if verdict == "true":
                        ctx.request_stop("stop_condition", condition.query)
                        return
                    if (
                        verdict == "unavailable"
                        and not ctx.settings.safety.stop_conditions_fail_open
                    ):
                        ctx.request_stop("stop_conditions_unavailable", condition.query)
                        return
