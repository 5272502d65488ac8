"""The end of every run, in one place: nothing of the run may act afterwards, its recovery
trackers stop, then the cleanups registered on the context run (RunContext.cleanups).

`Runner.run` calls `end_of_run` once, after the rollbacks, whatever ended the run: success,
abort, refusal, halt, shutdown or a crash; `Runner.rollbacks_only` (replay after a crash)
calls it too. Each cleanup is isolated (its failure is journaled in the record's `errors`
and never changes the outcome or skips the next cleanup) and bounded (CLEANUP_SECONDS, cut
to the run's shutdown deadline but never below MIN_CLEANUP_SECONDS).
"""

from __future__ import annotations

from concurrent.futures import TimeoutError as FutureTimeout

from daemon.engine import cordons
from daemon.engine.context import RunContext
from daemon.engine.threads import spawn

CLEANUP_SECONDS = 30.0
MIN_CLEANUP_SECONDS = 1.0


def end_of_run(ctx: RunContext) -> None:
    ctx.over.set()  # a provider thread still running sends nothing more (F3)
    try:  # node drills: always uncordon, then the drills' figures from the trackers
        cordons.end_of_run(ctx)  # (docs/node-drills.md); asks nothing if it never cordoned
    except Exception as exc:  # noqa: BLE001 - journaled; the trackers and cleanups still run
        ctx.append("errors", f"uncordon at the end of the run: {type(exc).__name__}: {exc}")
    for tracker in ctx.trackers:
        tracker.stop()
    run_cleanups(ctx)


def _name(cleanup: object) -> str:
    return str(getattr(cleanup, "__qualname__", None) or repr(cleanup))


def run_cleanups(ctx: RunContext) -> None:
    """Every registered cleanup once, in the order registered, each in its own daemon thread
    under its bound. `ctx.over` is set: a cleanup undoes, it must not ask
    ctx.cancelled()/disruption_blocked() (they now answer "the run is over")."""
    with ctx.lock:
        cleanups = list(ctx.cleanups)
        ctx.cleanups.clear()  # each runs once, even if the end of the run is reached twice
    for cleanup in cleanups:
        remaining = ctx.remaining()
        limit = (
            CLEANUP_SECONDS
            if remaining is None
            else min(CLEANUP_SECONDS, max(remaining, MIN_CLEANUP_SECONDS))
        )
        try:
            spawn(cleanup).result(timeout=limit)
        except FutureTimeout:
            ctx.append("errors", f"cleanup {_name(cleanup)}: still running after {limit:.1f}s")
        except Exception as exc:  # noqa: BLE001 - isolated: journaled, the run still ends
            ctx.append("errors", f"cleanup {_name(cleanup)}: {type(exc).__name__}: {exc}")
