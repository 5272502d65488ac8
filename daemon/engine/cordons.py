"""Cordons that aftershock makes, and the guarantee that it always takes them back.

A node drill cordons with one patch that sets `spec.unschedulable` and two annotations
(`aftershock.io/cordoned-by-run`, `aftershock.io/cordoned-at`): the cluster itself records
which nodes aftershock holds and for which run, so the count behind `max_nodes` is
cluster-wide and survives restarts. Before that patch, an intent (method `cordon`, kind
`Node`) is written to the run's recorder (the SQLite history in the daemon), like a pod
intent: a crash after it can never leave a cordon without a record.

`release(ctx)` uncordons every node annotated with the run's id. The runner calls it once at
the end of every run (success, failure, abort, halt, SIGTERM) and after an interrupted run's
rollbacks on restart; `orphans()` is the start-up check for nodes cordoned by a run that no
longer lives. Only nodes carrying our annotation are ever uncordoned.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from daemon.engine.claims import CLAIM_TTL, ClaimRefusedError, Ledger, NodesNow
from daemon.kube.errors import Conflict, Forbidden, KubeError, NotFound
from daemon.logging import get_logger
from daemon.records import WorkloadKey
from daemon.safety.budget import Intent
from daemon.safety.nodes import min_schedulable, schedulable

if TYPE_CHECKING:
    from daemon.engine.context import RunContext
    from daemon.kube.client import Kube

RUN_ANNOTATION = "aftershock.io/cordoned-by-run"
AT_ANNOTATION = "aftershock.io/cordoned-at"
# One process-wide lock: this process's runs claim one at a time (fewer 409s on the claims
# Lease); across processes the claim itself is atomic (daemon/engine/claims.py).
LOCK = threading.Lock()
log = get_logger("aftershock.nodes")


@dataclass(frozen=True)
class Held:
    node: str
    run_id: str
    at: str


def held(kube: Kube) -> list[Held]:
    """Nodes cordoned by aftershock now (cluster-wide, any run, any process)."""
    nodes, _ = kube.list("nodes")
    return _held(nodes)


def look(kube: Kube, min_schedulable_nodes: int | str) -> NodesNow:
    """The nodes as a claim is judged (listed after the claims Lease was read)."""
    nodes, _ = kube.list("nodes")
    return NodesNow(
        {h.node: h.run_id for h in _held(nodes)},
        frozenset(n["metadata"]["name"] for n in nodes if schedulable(n)),
        len(nodes),
        min_schedulable(min_schedulable_nodes, len(nodes)),
    )


def _held(nodes: list[dict[str, Any]]) -> list[Held]:
    out = []
    for node in nodes:
        annotations = node["metadata"].get("annotations") or {}
        if RUN_ANNOTATION in annotations:
            out.append(
                Held(
                    node["metadata"]["name"],
                    annotations[RUN_ANNOTATION],
                    annotations.get(AT_ANNOTATION, ""),
                )
            )
    return sorted(out, key=lambda h: h.node)


class CordonRefusedError(Exception):
    """The cordon was not made (or was taken back at once); the message says why."""


def cordon(
    ctx: RunContext,
    kube: Kube,
    node: dict[str, Any],
    *,
    max_nodes: int,
    min_schedulable_nodes: int | str,
) -> None:
    """Claim (daemon/engine/claims.py), intent, then one conditional patch."""
    name = node["metadata"]["name"]
    ledger = Ledger(kube, ctx.settings.kube.namespace)
    claimed = time.monotonic()
    try:
        ledger.claim(
            name,
            ctx.run_id,
            lambda: look(kube, min_schedulable_nodes),
            max_nodes=max_nodes,
        )
    except ClaimRefusedError as exc:
        raise CordonRefusedError(f"{name} not cordoned: {exc}") from None
    except KubeError as exc:  # listing the nodes failed: nothing claimed
        raise CordonRefusedError(f"{name} not cordoned: {exc.message}") from None
    ctx.append("cordon_intents", name)  # from here on, the end of the run looks for it
    try:
        intent_id = ctx.budget.recorder.record_intent(
            Intent(
                ctx.run_id,
                WorkloadKey("", "Node", name),
                name,
                node["metadata"].get("uid", ""),
                "cordon",
                time.time(),
            )
        )
    except Exception as exc:  # noqa: BLE001 - any recorder failure fails closed
        _drop(ctx, ledger, name)
        raise CordonRefusedError(
            f"the intent to cordon {name} could not be recorded ({exc}); nothing was cordoned"
        ) from None
    if time.monotonic() - claimed > CLAIM_TTL / 2:  # paused: the claim may have expired
        _settle(ctx, intent_id, "failed", "the claim grew too old before the patch")
        _drop(ctx, ledger, name)
        raise CordonRefusedError(
            f"{name} not cordoned: over {CLAIM_TTL / 2:.0f}s passed between its claim and the "
            "patch (the process was paused), so the claim may no longer count"
        )
    body = {
        "metadata": {
            "resourceVersion": node["metadata"].get("resourceVersion"),
            "annotations": {RUN_ANNOTATION: ctx.run_id, AT_ANNOTATION: _now()},
        },
        "spec": {"unschedulable": True},
    }
    sent = time.time()
    try:
        kube.patch_node(name, body)
    except Conflict:
        _settle(ctx, intent_id, "failed", "the node changed since it was read")
        _drop(ctx, ledger, name)
        raise CordonRefusedError(
            f"node {name} changed while it was being cordoned; not cordoned"
        ) from None
    except KubeError as exc:
        _settle(ctx, intent_id, "uncertain" if exc.status == 0 else "failed", exc.message)
        if exc.status == 0:  # no answer: the patch may still land; its claim keeps counting
            ctx.append("cordon_uncertain", name)  # and the end of the run waits for it
        else:
            _drop(ctx, ledger, name)
        raise CordonRefusedError(f"cordon {name}: {exc.message}") from None
    _settle(ctx, intent_id, "done")
    ctx.append("cordoned", {"node": name, "at": time.time(), "sent_at": sent})
    _drop(ctx, ledger, name)  # the annotation counts from here on
    mine = held(kube)
    if len(mine) > max_nodes:  # a cordon made without a claim (an older aftershock): yield
        uncordon(kube, name, ctx.run_id)
        raise CordonRefusedError(
            f"max_nodes {max_nodes}: {len(mine)} nodes cordoned by aftershock right after "
            f"this cordon ({', '.join(h.node for h in mine)}); {name} was uncordoned again"
        )


def _drop(ctx: RunContext, ledger: Ledger, name: str) -> None:
    """Best effort: a claim not dropped still expires (claims.CLAIM_TTL)."""
    try:
        ledger.drop(ctx.run_id, {name})
    except KubeError as exc:
        ctx.append("errors", f"claim of {name} on {ledger.where} not dropped: {exc.message}")


def uncordon(kube: Kube, name: str, run_id: str) -> bool:
    """Take back a cordon this run made (and only such a cordon); True if one was taken back."""
    for _ in range(5):
        try:
            node = kube.get("nodes", None, name)
        except NotFound:
            return False
        annotations = node["metadata"].get("annotations") or {}
        if annotations.get(RUN_ANNOTATION) != run_id:
            return False
        body = {
            "metadata": {
                "resourceVersion": node["metadata"].get("resourceVersion"),
                "annotations": {RUN_ANNOTATION: None, AT_ANNOTATION: None},
            },
            "spec": {"unschedulable": False},
        }
        try:
            kube.patch_node(name, body)
        except Conflict:
            continue
        return True
    raise KubeError(f"uncordon {name}: the node kept changing")


def release(ctx: RunContext, *, patience: float | None = None) -> list[str]:
    """Uncordon every node this run cordoned; journaled under `uncordoned` (or the error).

    Runs with the run over: it asks no gate (taking back a cordon is never a disruption).
    API errors are retried for `patience` seconds (`nodes.release_patience`, cut to the
    shutdown deadline; a 403 is not retried: it will not change). A cordon sent without an
    answer (`cordon_uncertain`) may land after the run gave up on it: the release watches for
    it as long and takes it back when it shows. Then the run's claims are dropped."""
    kube = ctx.kube
    if kube is None:
        return []
    done: list[str] = []
    if patience is None:
        patience = ctx.settings.nodes.release_patience.total_seconds()
    remaining = ctx.remaining()
    if remaining is not None:
        patience = min(patience, max(remaining, 1.0))
    deadline = time.monotonic() + patience
    awaited = set(ctx.record.get("cordon_uncertain") or [])
    while True:
        try:
            ours = [h for h in held(kube) if h.run_id == ctx.run_id]
            awaited -= {h.node for h in ours}  # it landed: from here on it is only ours
            done.extend(h.node for h in ours if uncordon(kube, h.node, ctx.run_id))
            if awaited and time.monotonic() < deadline:
                time.sleep(0.5)  # an unanswered cordon may still land: look again
                continue
            if awaited:
                ctx.append(
                    "errors",
                    f"cordon of {', '.join(sorted(awaited))} got no answer and had not landed "
                    f"after {patience:.0f}s; if it lands later, a daemon's housekeeping sweep "
                    "takes it back (a bare run's is reported at the next daemon start)",
                )
            else:
                _drop_all(ctx, kube)
            break
        except KubeError as exc:
            if isinstance(exc, Forbidden) or time.monotonic() > deadline:
                ctx.append("errors", f"nodes not uncordoned (still cordoned): {exc.message}")
                ctx.record["uncordon_failed"] = exc.message
                break
            time.sleep(0.5)
    for node in done:
        ctx.append("uncordoned", {"node": node, "at": time.time()})
    return done


def _drop_all(ctx: RunContext, kube: Kube) -> None:
    """The run's claims left over (a crash between claim and patch): best effort, they expire."""
    ledger = Ledger(kube, ctx.settings.kube.namespace)
    try:
        if any(c.run_id == ctx.run_id for c in ledger.claims()):
            ledger.drop(ctx.run_id)
    except (KubeError, ClaimRefusedError) as exc:
        ctx.append("errors", f"claims on {ledger.where} not dropped: {exc}")


def orphans(kube: Kube, live_runs: set[str]) -> list[Held]:
    """Start-up check: nodes cordoned by aftershock for a run that is not live."""
    return [h for h in held(kube) if h.run_id not in live_runs]


def report_orphans(kube: Kube | None, live_runs: set[str]) -> list[Held]:
    """The daemon's start-up check (after interrupted runs were recovered, which takes back
    their cordons): any node still cordoned by aftershock without a live run is reported, by
    name and run, for an operator to look at (`kubectl uncordon`). It is not lifted here: the
    run that made it is not this daemon's (an `aftershock run` that was killed, say)."""
    if kube is None:
        return []
    try:
        found = orphans(kube, live_runs)
    except KubeError as exc:
        log.warning("start-up check: cannot list nodes cordoned by aftershock", error=exc.message)
        return []
    for h in found:
        log.error(
            "node cordoned by aftershock without a live run",
            node=h.node,
            run_id=h.run_id,
            cordoned_at=h.at,
            annotation=RUN_ANNOTATION,
        )
    return found


def _settle(ctx: RunContext, intent_id: int, state: str, detail: str = "") -> None:
    try:
        ctx.budget.recorder.settle_disruption(intent_id, state, detail)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - the intent row keeps counting
        ctx.append("errors", f"cordon intent {intent_id} not settled as {state}: {exc}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def end_of_run(ctx: RunContext) -> None:
    """The runner's one call at the end of every run: uncordon, then the drills' figures.
    A run that never tried to cordon asks the API nothing (it may not even list nodes)."""
    if not ctx.record.get("cordon_intents"):
        return
    release(ctx)
    drills = ctx.record.get("node_drills") or []
    for drill in drills:
        keys = set(drill.get("workloads") or [])
        results = [
            t.result
            for t in ctx.trackers
            if str(WorkloadKey(t.result.namespace, t.result.kind, t.result.name)) in keys
        ]
        done = [r.recovered_at for r in results if r.recovered and r.recovered_at is not None]
        if not keys:  # the node ran nothing to evict: nothing was displaced
            drill["all_recovered"], drill["all_recovered_seconds"] = True, 0.0
            continue
        drill["all_recovered"] = bool(results) and len(done) == len(results)
        drill["all_recovered_seconds"] = (
            round(max(done) - _first_cordon(ctx, drill), 6) if drill["all_recovered"] else None
        )


def _first_cordon(ctx: RunContext, drill: dict[str, Any]) -> float:
    """When the drill's first cordon was sent (its claim before it is not the drill)."""
    started = float(drill["started_at"])
    sent = [
        float(c.get("sent_at", c["at"]))
        for c in ctx.record.get("cordoned") or []
        if c["node"] in (drill.get("nodes") or []) and float(c["at"]) >= started
    ]
    return min(sent, default=started)


def replay_release(ctx: RunContext) -> list[dict[str, Any]]:
    """For an interrupted run on restart: its cordons taken back, as a rollback record.

    The cluster's annotations say which nodes are the run's; its cordon intents (seeded into
    the replayed ledger as `("", "Node", name)`) say whether to insist when the API fails.
    A run that never cordoned gets no record, even where nodes cannot be listed."""
    expected = any(key[1] == "Node" for key in ctx.budget.ledger.per_workload)
    nodes = release(ctx, patience=None if expected else 0.0)
    if not nodes and not expected:
        ctx.record.pop("uncordon_failed", None)
        return []
    if not nodes and "uncordon_failed" not in ctx.record:
        return []
    failed = ctx.record.get("uncordon_failed")
    return [
        {
            "activity": {"type": "action", "name": "aftershock: uncordon the run's nodes"},
            "status": "failed" if failed else "succeeded",
            "output": nodes,
            **({"exception": [failed]} if failed else {}),
        }
    ]
