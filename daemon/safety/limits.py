"""Effective limits: the global settings, tightened (never loosened) by an experiment."""

from __future__ import annotations

from daemon.catalog.extension import BlastRadius
from daemon.safety.guard import Limits
from daemon.settings import SafetySettings


def effective_limits(
    settings: SafetySettings, radius: BlastRadius, own_namespace: str = ""
) -> Limits:
    """The stricter of each global and per-experiment value."""

    def smaller(a: float, b: float | None) -> float:
        return a if b is None else min(a, b)

    floors: tuple[int | str, ...] = (settings.min_ready_replicas,)
    if radius.min_ready_replicas is not None:
        floors = (*floors, radius.min_ready_replicas)
    protected = frozenset(
        {*settings.protected_namespaces, *([own_namespace] if own_namespace else [])}
    )
    on_limit = "refuse" if "refuse" in (settings.on_limit, radius.on_limit) else "cap"
    return Limits(
        max_pods=int(smaller(settings.max_pods, radius.max_pods)),
        max_percent=smaller(settings.max_percent, radius.max_percent),
        min_ready=floors,
        require_workload_ready=settings.require_workload_ready
        or bool(radius.require_workload_ready),
        respect_pdb=settings.respect_pdb or bool(radius.respect_pdb),
        cooldown=max(settings.cooldown, radius.cooldown or settings.cooldown),
        max_disruptions_per_day=int(
            smaller(settings.max_disruptions_per_day, radius.max_disruptions_per_day)
        ),
        on_limit=on_limit,  # type: ignore[arg-type]
        require_opt_in=settings.require_opt_in,
        opt_in_label=settings.opt_in_label,
        protected_namespaces=protected,
        allow_bare_pods=settings.allow_bare_pods,
        own_namespace=own_namespace,
    )
