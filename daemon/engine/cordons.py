"""Cordons that aftershock makes, and the guarantee that it always takes them back.

A node drill cordons in two conditional writes to the Node (daemon/engine/claims.py): a
claim, judged against every cordon and claim of aftershock in the cluster, then one patch
fenced by the claim that sets `spec.unschedulable` and two annotations
(`aftershock.io/cordoned-by-run`, `aftershock.io/cordoned-at`): the cluster itself records
which nodes aftershock holds and for which run, so the counts behind `max_nodes` and
`min_schedulable_nodes` are cluster-wide and survive restarts. Before the patch, an intent
(method `cordon`, kind `Node`) is written to the run's recorder (the SQLite history in the
daemon), like a pod intent: a crash after it can never leave a cordon without a record.

`release(ctx)` uncordons every node annotated with the run's id and withdraws its claims.
The runner calls it once at the end of every run (success, failure, abort, halt, SIGTERM)
and after an interrupted run's rollbacks on restart; `orphans()` is the start-up check for
nodes cordoned by a run that no longer lives. Only nodes carrying our annotation are ever
uncordoned.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from daemon.engine.claims import (
    CLAIM_ANNOTATION,
    CLAIM_WINDOW,
    ClaimRefusedError,
    NodeClaims,
    NodesNow,
    admit,
    backoff,
    claimed_by,
    is_ours,
    read_claim,
    read_node,
)
from daemon.kube.errors import Conflict, KubeError
from daemon.logging import get_logger
from daemon.records import WorkloadKey
from daemon.safety.budget import Intent
from daemon.safety.nodes import min_schedulable, schedulable

if TYPE_CHECKING:
    from daemon.engine.context import RunContext
    from daemon.kube.client import Kube

RUN_ANNOTATION = "aftershock.io/cordoned-by-run"
AT_ANNOTATION = "aftershock.io/cordoned-at"
HOLDER_ANNOTATION = "aftershock.io/cordoned-by"  # the daemon replica whose run it is
# One process-wide lock: this process's runs claim one at a time (no claims of its own to
# back off from); across processes the claims on the nodes decide (daemon/engine/claims.py).
LOCK = threading.Lock()
log = get_logger("aftershock.nodes")


@dataclass(frozen=True)
class Held:
    node: str
    run_id: str
    at: str
    holder: str = ""


def held(kube: Kube) -> list[Held]:
    """Nodes cordoned by aftershock now (cluster-wide, any run, any process)."""
    nodes, _ = kube.list("nodes")
    return held_in(nodes)


def look(nodes: list[dict[str, Any]], min_schedulable_nodes: int | str) -> NodesNow:
    """The nodes as a claim is judged (listed after the claim was written)."""
    return NodesNow(
        {h.node: h.run_id for h in held_in(nodes)},
        [c for c in (read_claim(n) for n in nodes) if c is not None],
        frozenset(n["metadata"]["name"] for n in nodes if schedulable(n)),
        len(nodes),
        min_schedulable(min_schedulable_nodes, len(nodes)),
    )


def held_in(nodes: list[dict[str, Any]], *, stale: bool = False) -> list[Held]:
    """Nodes annotated by aftershock and cordoned; with `stale`, those annotated but no
    longer cordoned (someone else uncordoned them: the annotation claims nothing)."""
    out = []
    for node in nodes:
        annotations = node["metadata"].get("annotations") or {}
        cordoned = bool((node.get("spec") or {}).get("unschedulable"))
        if RUN_ANNOTATION in annotations and cordoned != stale:
            out.append(
                Held(
                    node["metadata"]["name"],
                    annotations[RUN_ANNOTATION],
                    annotations.get(AT_ANNOTATION, ""),
                    annotations.get(HOLDER_ANNOTATION, ""),
                )
            )
    return sorted(out, key=lambda h: h.node)


def cordoned_since(node: dict[str, Any]) -> float | None:
    """When the node's current cordon began, by the `node.kubernetes.io/unschedulable`
    taint the node controller adds to a cordoned node (its `timeAdded`); None if unknown."""
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("key") == "node.kubernetes.io/unschedulable" and taint.get("timeAdded"):
            try:
                return datetime.fromisoformat(str(taint["timeAdded"])).timestamp()
            except ValueError:
                return None
    return None


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
    """Claim (daemon/engine/claims.py), intent, then one patch fenced by the claim."""
    name = node["metadata"]["name"]
    closed = ctx.disruption_blocked()
    if closed:
        raise CordonRefusedError(f"cordon not sent to {name}: {closed}")
    ctx.append("cordon_intents", name)  # from here on, the end of the run looks for it
    claims = NodeClaims(kube, ttl=ctx.settings.nodes.claim_ttl.total_seconds())
    version, claimed = _claim(ctx, claims, name, max_nodes, min_schedulable_nodes)
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
        _withdraw(ctx, claims, name)
        raise CordonRefusedError(
            f"the intent to cordon {name} could not be recorded ({exc}); nothing was cordoned"
        ) from None
    for _ in range(3):
        why = ctx.disruption_blocked() or (
            "the process was paused between the claim and the cordon"
            if time.monotonic() - claimed > claims.ttl / 2
            else None
        )
        if why:
            _settle(ctx, intent_id, "failed", why)
            _withdraw(ctx, claims, name)
            raise CordonRefusedError(f"cordon not sent to {name}: {why}")
        body = {
            "metadata": {
                "resourceVersion": version,  # the node as our claim left it: the fence
                "annotations": {
                    RUN_ANNOTATION: ctx.run_id,
                    AT_ANNOTATION: _now(),
                    HOLDER_ANNOTATION: ctx.holder or None,
                    CLAIM_ANNOTATION: None,
                },
            },
            "spec": {"unschedulable": True},
        }
        sent = time.time()
        try:
            landed = kube.patch_node(name, body)
        except Conflict:  # the node changed since the claim: is the claim still standing?
            standing = _still_claimed(kube, name, ctx.run_id)
            if standing:
                version = standing
                continue
            _settle(ctx, intent_id, "failed", "claim cleared, or node cordoned by another")
            _withdraw(ctx, claims, name)
            raise CordonRefusedError(
                f"{name} not cordoned: before the cordon landed, its claim was cleared or "
                "someone else cordoned the node"
            ) from None
        except KubeError as exc:
            if exc.status == 0:  # no answer: fence it now (withdraw the claim), then look
                state, late = _settle_unanswered(ctx, claims, name)
                if late is not None:  # it had landed: ours, as if answered
                    _settle(ctx, intent_id, "done")
                    ctx.append("cordoned", {"node": name, "at": time.time(), "sent_at": sent})
                    watch_ownership(ctx, kube, name, str(late["metadata"]["resourceVersion"]))
                    return
                _settle(ctx, intent_id, "failed" if state == "fenced" else state, exc.message)
            else:
                _settle(ctx, intent_id, "failed", exc.message)
                _withdraw(ctx, claims, name)
            raise CordonRefusedError(f"cordon {name}: {exc.message}") from None
        _settle(ctx, intent_id, "done")
        ctx.append("cordoned", {"node": name, "at": time.time(), "sent_at": sent})
        watch_ownership(ctx, kube, name, str(landed["metadata"].get("resourceVersion")))
        return
    _settle(ctx, intent_id, "failed", "the node kept changing")
    _withdraw(ctx, claims, name)
    raise CordonRefusedError(f"{name} not cordoned: the node kept changing")


def _claim(
    ctx: RunContext, claims: NodeClaims, name: str, max_nodes: int, floor: int | str
) -> tuple[str, float]:
    """Write a claim that the count after it admits: (the node's resourceVersion as the
    claim left it, time.monotonic() when it was written), or CordonRefusedError."""
    kube = claims.kube
    rng = random.Random(f"{ctx.run_id}/{name}")  # noqa: S311 - jitter, not secrets
    window = CLAIM_WINDOW if ctx.remaining() is None else min(CLAIM_WINDOW, ctx.remaining() or 0)
    deadline = time.monotonic() + window

    def judged() -> list[dict[str, Any]]:
        """List, clear what expired, judge: one `now` for the clearing and the judgement."""
        while True:
            nodes, _ = kube.list("nodes")
            now = claims.clock()
            if not claims.clear_expired(nodes, now):
                admit(
                    look(nodes, floor),
                    name,
                    ctx.run_id,
                    max_nodes=max_nodes,
                    now=now,
                    ttl=claims.ttl,
                )
                return nodes

    attempt = 0
    while True:
        attempt += 1
        try:
            nodes = judged()
            target = next((n for n in nodes if n["metadata"]["name"] == name), None)
            if target is None:
                raise ClaimRefusedError(f"node {name} is gone")  # noqa: TRY301
            version = claims.write(target, ctx.run_id)
            written = time.monotonic()
            try:
                nodes = judged()  # after the write: every earlier claim is seen
            except (ClaimRefusedError, KubeError):
                _withdraw(ctx, claims, name)
                raise
            mine = next((n for n in nodes if n["metadata"]["name"] == name), None)
            if mine is None or not is_ours(mine, ctx.run_id):
                raise ClaimRefusedError(f"the claim of {name} is gone (node deleted or cleared)")  # noqa: TRY301
            return str(mine["metadata"].get("resourceVersion") or version), written
        except Conflict:
            retry = True  # the node changed between the read and the claim: count again
            why = "the node kept changing"
        except ClaimRefusedError as exc:
            retry, why = exc.retry, str(exc)
        except KubeError as exc:
            raise CordonRefusedError(f"{name} not cordoned: {exc.message}") from None
        blocked = ctx.disruption_blocked()
        if not retry or time.monotonic() > deadline or blocked:
            raise CordonRefusedError(f"{name} not cordoned: {blocked or why}")
        time.sleep(backoff(rng, attempt))


def _settle_unanswered(
    ctx: RunContext, claims: NodeClaims, name: str
) -> tuple[str, dict[str, Any] | None]:
    """A cordon sent without an answer: withdraw its claim, which fences it (it can no
    longer land), then look. ("landed", node) if the cordon landed first (ours now);
    ("fenced", None) if it never will; ("uncertain", None) if the API cannot say: the end of
    the run withdraws and looks again."""
    try:
        if claims.withdraw(name, ctx.run_id):
            node = read_node(claims.kube, name)
            annotations = (node or {}).get("metadata", {}).get("annotations") or {}
            if (
                node is not None
                and annotations.get(RUN_ANNOTATION) == ctx.run_id
                and (node.get("spec") or {}).get("unschedulable")
            ):
                return "landed", node
            return "fenced", None
    except KubeError:
        pass
    ctx.append("cordon_uncertain", name)
    return "uncertain", None


def _still_claimed(kube: Kube, name: str, run_id: str) -> str | None:
    """The node's resourceVersion if our claim still stands on it and nobody cordoned it
    meanwhile (so our cordon may go): never adopt someone else's cordon."""
    try:
        node = read_node(kube, name)
    except KubeError:
        return None
    if (
        node is not None
        and is_ours(node, run_id)
        and RUN_ANNOTATION not in (node["metadata"].get("annotations") or {})
        and schedulable(node)
    ):
        return str(node["metadata"].get("resourceVersion"))
    return None


def _withdraw(ctx: RunContext, claims: NodeClaims, name: str) -> None:
    """Best effort here: the end of the run withdraws again, and a claim expires."""
    try:
        claims.withdraw(name, ctx.run_id)
    except KubeError as exc:
        ctx.append("errors", f"claim on {name} not withdrawn: {exc.message}")


def uncordon(kube: Kube, name: str, run_id: str) -> bool:
    """Take back a cordon this run made (and only such a cordon); True if one was taken back."""
    for _ in range(5):
        node = read_node(kube, name)
        if node is None:
            return False
        annotations = node["metadata"].get("annotations") or {}
        if annotations.get(RUN_ANNOTATION) != run_id:
            return False
        if not (node.get("spec") or {}).get("unschedulable"):  # someone else uncordoned it:
            forget(kube, name, run_id)  # a cordon made there later would not be ours
            return False
        annotations_off: dict[str, None] = {
            RUN_ANNOTATION: None,
            AT_ANNOTATION: None,
            HOLDER_ANNOTATION: None,
        }
        if is_ours(node, run_id):
            annotations_off[CLAIM_ANNOTATION] = None
        body = {
            "metadata": {
                "resourceVersion": node["metadata"].get("resourceVersion"),
                "annotations": annotations_off,
            },
            "spec": {"unschedulable": False},
        }
        try:
            kube.patch_node(name, body)
        except Conflict:
            continue
        return True
    raise KubeError(f"uncordon {name}: the node kept changing")


def watch_ownership(ctx: RunContext, kube: Kube, name: str, version: str) -> None:
    """Watch a node this run cordoned until the run is over: if it is seen schedulable
    while still annotated for this run, someone else (`kubectl uncordon`) took the cordon
    back, and a cordon found there later (`kubectl cordon`) is theirs: the node goes under
    `cordons_lifted` and the end of the run only removes our annotations from it. A watch
    that breaks resumes from a fresh read; a change inside that gap cannot be seen."""

    def follow() -> None:
        rv = version
        while not ctx.over.is_set():
            try:
                for kind, obj in kube.watch(
                    "nodes",
                    None,
                    resource_version=rv,
                    field_selector=f"metadata.name={name}",
                    timeout_seconds=5,
                ):
                    rv = str(obj.get("metadata", {}).get("resourceVersion") or rv)
                    if kind != "BOOKMARK" and _judge_ownership(ctx, name, obj):
                        return
                    if ctx.over.is_set():
                        return
            except KubeError:
                try:
                    node = read_node(kube, name)
                except KubeError:
                    if ctx.over.wait(1.0):
                        return
                    continue
                if node is None or _judge_ownership(ctx, name, node):
                    return
                rv = str(node["metadata"].get("resourceVersion"))
                if ctx.over.wait(1.0):  # a watch refused (no RBAC) or broken: not a busy loop
                    return

    def guarded() -> None:
        try:
            follow()
        except Exception as exc:  # noqa: BLE001 - e.g. the client closed after the run:
            log.debug("cordon ownership watch ended", node=name, error=repr(exc))  # quiet

    threading.Thread(target=guarded, name=f"cordon-owner-{name}", daemon=True).start()


def _judge_ownership(ctx: RunContext, name: str, node: dict[str, Any]) -> bool:
    """True when there is nothing more to watch: the node is no longer annotated for this
    run (its cordon was taken back by aftershock), or it was uncordoned by someone else."""
    annotations = node.get("metadata", {}).get("annotations") or {}
    if annotations.get(RUN_ANNOTATION) != ctx.run_id:
        return True
    if not bool((node.get("spec") or {}).get("unschedulable")):
        ctx.append("cordons_lifted", name)
        ctx.append(
            "plans",
            {
                "uncordon": name,
                "skipped": "uncordoned by someone else during the run; a "
                "cordon made there afterwards is theirs",
            },
        )
        return True
    return False


def forget(kube: Kube, name: str, run_id: str) -> None:
    """Remove this run's annotations from a node whose cordon is no longer ours; its
    `spec.unschedulable` is left as it is."""
    for _ in range(5):
        node = read_node(kube, name)
        if node is None:
            return
        if (node["metadata"].get("annotations") or {}).get(RUN_ANNOTATION) != run_id:
            return
        body = {
            "metadata": {
                "resourceVersion": node["metadata"].get("resourceVersion"),
                "annotations": {RUN_ANNOTATION: None, AT_ANNOTATION: None, HOLDER_ANNOTATION: None},
            }
        }
        try:
            kube.patch_node(name, body)
        except Conflict:
            continue
        return
    raise KubeError(f"forget {name}: the node kept changing")


def release(ctx: RunContext, *, patience: float | None = None) -> list[str]:
    """Uncordon every node this run cordoned and withdraw its claims; journaled under
    `uncordoned` (or the error).

    Runs with the run over: it asks no gate (taking back a cordon is never a disruption).
    Withdrawing a claim is a write to its node, so a cordon request of this run still on the
    wire can no longer land (it is conditional on the node as the claim left it); one that
    landed first is found and taken back on the next pass. API errors are retried for
    `patience` seconds (`nodes.release_patience`), cut to the run's shutdown deadline, read
    again on every retry (a SIGTERM during the retries bounds them). Nodes someone else
    uncordoned meanwhile only lose our annotations."""
    kube = ctx.kube
    if kube is None:
        return []
    done: list[str] = []
    if patience is None:
        patience = ctx.settings.nodes.release_patience.total_seconds()
    deadline = time.monotonic() + patience
    claims = NodeClaims(kube)
    while True:
        try:
            if _release_pass(ctx, kube, claims, done):
                break
            time.sleep(0.05)  # look again: what was done shows in the next listing
        except KubeError as exc:
            remaining = ctx.remaining()
            cut = deadline if remaining is None else min(deadline, time.monotonic() + remaining)
            if time.monotonic() >= cut:  # a 403 too is retried: an API server restarting
                # may answer 403 until its RBAC cache is warm
                ctx.append("errors", f"nodes not uncordoned (still cordoned): {exc.message}")
                ctx.record["uncordon_failed"] = exc.message
                break
            time.sleep(min(0.5, max(0.0, cut - time.monotonic())))
    for node in done:
        ctx.append("uncordoned", {"node": node, "at": time.time()})
    return done


def _release_pass(ctx: RunContext, kube: Kube, claims: NodeClaims, done: list[str]) -> bool:
    """One look at the nodes: True when nothing of this run is left on any of them."""
    nodes, _ = kube.list("nodes")
    ours = [h.node for h in held_in(nodes) if h.run_id == ctx.run_id]
    claimed = claimed_by(nodes, ctx.run_id)
    stale = [h.node for h in held_in(nodes, stale=True) if h.run_id == ctx.run_id]
    if not ours and not claimed and not stale:
        return True
    for name in stale:  # uncordoned by someone else: only our annotations go
        forget(kube, name, ctx.run_id)
    lifted = set(ctx.record.get("cordons_lifted") or [])
    for name in ours:
        if name in lifted:  # someone else uncordoned it: whatever cordon is there now
            forget(kube, name, ctx.run_id)  # is not ours to lift
        elif uncordon(kube, name, ctx.run_id):
            done.append(name)
    for name in claimed:
        if not claims.withdraw(name, ctx.run_id):
            raise KubeError(f"the claim on {name} could not be withdrawn")
    return False


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
