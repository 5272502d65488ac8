"""Secret values never leave a run: journals, pages, API answers and logs show `***`.

The rule (docs/running.md, "The journal"): every value of `secrets`, and every `configuration`
entry read from the environment (`type: env`) whose key or variable name looks like a
credential (token, password, secret, key, auth, credential, cookie, session, signature,
private). Values shorter than 4 characters are not redacted (replacing "a" or "80"
everywhere would destroy the journal); URL-encoded forms are redacted too, because error
texts quote the URL as it was sent. Values are masked, mapping keys are not (they are the
journal's structure). What the daemon reads back from a journal to keep its limits and
metrics (outcome, reason, the disrupted pods, the recovered workloads, the hypothesis
checks) is kept as it is: Kubernetes names and enumerations, never secret text, and a
mask there would hide a disruption from cooldown and the daily budget.
Pure functions: the caller passes what was resolved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_LENGTH = 4
# The journal's `aftershock` keys the daemon reads back; and per recovery, the workload.
KEPT_RECORD = ("outcome", "reason", "run_id", "experiment_id", "disrupted", "hypothesis_checks")
KEPT_RECOVERY = ("namespace", "kind", "name")
SECRET_NAME = re.compile(
    r"pass|secret|token|key|auth|cred|cookie|session|signature|private", re.IGNORECASE
)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        yield str(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _from_env(raw: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    return environ.get(str(raw.get("key", "")), raw.get("default"))


def sensitive_names(raw_secrets: Any, raw_configuration: Any) -> frozenset[str]:
    """The `${name}`s whose values are masked: every secret, and each `type: env`
    configuration entry whose key or variable name looks like a credential (as below)."""
    names: set[str] = set()
    for scope in raw_secrets.values() if isinstance(raw_secrets, Mapping) else ():
        names.update(str(key) for key in (scope if isinstance(scope, Mapping) else ()))
    for key, raw in raw_configuration.items() if isinstance(raw_configuration, Mapping) else ():
        if _credential_env(key, raw):
            names.add(str(key))
    return frozenset(names)


def _credential_env(key: Any, raw: Any) -> bool:
    return (
        isinstance(raw, Mapping)
        and raw.get("type") == "env"
        and bool(SECRET_NAME.search(str(key)) or SECRET_NAME.search(str(raw.get("key", ""))))
    )


def sensitive_values(
    secrets: Mapping[str, Any],
    configuration: Mapping[str, Any] | None = None,
    raw_configuration: Any = None,
    *,
    raw_secrets: Any = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """The strings to mask, longest first (so a secret containing another is masked whole).

    `secrets`/`configuration` are the resolved values; `raw_secrets`/`raw_configuration`
    the experiment's declarations, resolved here best-effort against `environ` too, so a
    run that failed while resolving (or never resolved) still masks what it declared."""
    found: set[str] = set()
    environ = environ or {}
    for scope in secrets.values():
        found.update(_strings(scope))
    for scope in (raw_secrets or {}).values() if isinstance(raw_secrets, Mapping) else ():
        for raw in scope.values() if isinstance(scope, Mapping) else ():
            is_env = isinstance(raw, Mapping) and raw.get("type") == "env"
            found.update(_strings(_from_env(raw, environ) if is_env else raw))
    if not isinstance(raw_configuration, Mapping):
        raw_configuration = {}
    for key, raw in raw_configuration.items():
        if _credential_env(key, raw):
            found.update(_strings((configuration or {}).get(key)))
            found.update(_strings(_from_env(raw, environ)))
    needles: set[str] = set()
    for value in found:
        if len(value) >= MIN_LENGTH:
            needles.update({value, quote(value, safe=""), quote_plus(value), quote(value)})
    return tuple(sorted(needles, key=lambda s: (-len(s), s)))


def redact(value: Any, needles: tuple[str, ...]) -> Any:
    """A copy of `value` (any JSON-like value) with every needle replaced by `***`."""
    if not needles:
        return value
    if isinstance(value, str):
        changed = True
        while changed:  # a mask next to a '*' in a secret could form it again; strings shrink
            changed = False
            for needle in needles:
                if needle in value:
                    value, changed = value.replace(needle, MASK), True
        return value
    if isinstance(value, Mapping):
        return {k: redact(v, needles) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item, needles) for item in value]
    return value


def redact_journal(journal: dict[str, Any], needles: tuple[str, ...]) -> dict[str, Any]:
    """`redact` of a whole journal, keeping what the daemon reads back (see above)."""
    masked: dict[str, Any] = redact(journal, needles)
    if "status" in journal:
        masked["status"] = journal["status"]
    record, out = journal.get("aftershock"), masked.get("aftershock")
    if not isinstance(record, dict) or not isinstance(out, dict):
        return masked
    for key in KEPT_RECORD:
        if key in record:
            out[key] = record[key]
    raw_recovery, out_recovery = record.get("recovery"), out.get("recovery")
    if isinstance(raw_recovery, list) and isinstance(out_recovery, list):
        for raw, item in zip(raw_recovery, out_recovery, strict=False):
            if isinstance(raw, dict) and isinstance(item, dict):
                item.update({k: raw[k] for k in KEPT_RECOVERY if k in raw})
    return masked
