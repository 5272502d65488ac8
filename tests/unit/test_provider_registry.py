"""Issue 12, I3: one provider registry, walked so the next mutating provider cannot slip in.

Every provider aftershock can run is in `daemon.catalog.providers`; these tests walk all of
them and fail when a provider mutates without a guard, when a read-only one reaches for the
client's mutating calls, or when the registry and the implementation disagree.
"""

from __future__ import annotations

import inspect
import re

import pytest

from daemon.catalog import providers
from daemon.engine import providers as engine_providers
from daemon.kube.client import Kube

SPECS = providers.registry()
# The Kubernetes client's calls that change the cluster (found by name, so a new one counts).
MUTATING_CALLS = sorted(
    name
    for name, _ in inspect.getmembers(Kube, inspect.isfunction)
    if re.match(r"(delete|evict|scale|create|replace|patch|update)_", name)
)
# The guard each kind must go through (daemon/engine/providers/k8s.py).
GUARD_ENTRY = {"pods": "guarded_kill", "scale": "guarded_scale", "nodes": "guarded_nodes"}
CLIENT_CALL = re.compile(r"\.(" + "|".join(MUTATING_CALLS) + r")\(")
EVENTS = {"create_event"}  # the audit Event recorded after a disruption


def _id(spec: providers.ProviderSpec) -> str:
    return spec.name


def test_the_client_has_mutating_calls_to_look_for() -> None:
    assert {"delete_pod", "evict_pod", "scale_deployment"} <= set(MUTATING_CALLS)


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_every_mutating_provider_has_a_guard(spec: providers.ProviderSpec) -> None:
    if spec.mutates:
        assert spec.guard != "none", f"{spec.name} mutates but declares no guard"
    else:
        assert spec.guard == "none", f"{spec.name} is read-only but declares guard {spec.guard}"
    if spec.guard == "external":
        # Only reaches a URL the file names, and only with a method that may change things.
        assert spec.mutates_if is not None
        assert spec.name in ("http", "aftershock.traffic.attack")
    if spec.guard == "allowlist":
        assert spec.type == "process"


@pytest.mark.parametrize("spec", [s for s in SPECS if s.type == "python"], ids=_id)
def test_registry_matches_the_implementation(spec: providers.ProviderSpec) -> None:
    """Declared arguments are the function's parameters (after ctx); required = no default."""
    function = engine_providers.resolve(spec.implementation)
    parameters = list(inspect.signature(function).parameters.values())[1:]
    assert {p.name for p in parameters} == set(spec.arguments), spec.name
    for parameter in parameters:
        required = parameter.default is inspect.Parameter.empty
        assert spec.arguments[parameter.name].required == required, parameter.name
    assert spec.function() is function  # dispatch is derived from the registry
    assert [(p.name, p.required) for p in spec.parameters()] == [
        (p.name, p.default is inspect.Parameter.empty) for p in parameters
    ]  # validation binds names as chaoslib does, from the signature


def _source(spec: providers.ProviderSpec) -> str:
    return inspect.getsource(engine_providers.resolve(spec.implementation))


@pytest.mark.parametrize(
    "spec", [s for s in SPECS if s.type == "python" and s.guard not in GUARD_ENTRY], ids=_id
)
def test_providers_without_a_cluster_guard_never_call_a_mutating_client_method(
    spec: providers.ProviderSpec,
) -> None:
    calls = set(CLIENT_CALL.findall(_source(spec)))
    assert not calls, f"{spec.name} has no cluster guard but calls {calls}"
    assert not any(entry in _source(spec) for entry in GUARD_ENTRY.values())


@pytest.mark.parametrize(
    "spec",
    [s for s in SPECS if s.guard in GUARD_ENTRY],
    ids=_id,
)
def test_mutating_providers_reach_the_cluster_only_through_their_guard(
    spec: providers.ProviderSpec,
) -> None:
    source = _source(spec)
    assert GUARD_ENTRY[spec.guard] in source, f"{spec.name} does not call its guard"
    direct = set(CLIENT_CALL.findall(source)) - EVENTS
    assert not direct, f"{spec.name} calls {direct} itself instead of through its guard"


def test_http_is_read_only_only_for_safe_methods() -> None:
    for method in ("GET", "get", "HEAD", "OPTIONS"):
        assert not providers.HTTP.mutating({"type": "http", "url": "http://x/", "method": method})
    for method in ("POST", "PUT", "PATCH", "DELETE", "${m}"):
        assert providers.HTTP.mutating({"type": "http", "url": "http://x/", "method": method})
    assert not providers.HTTP.mutating({"type": "http", "url": "http://x/"})  # GET by default


def test_cluster_guards_are_only_on_python_providers() -> None:
    """aftershock's own identity reaches the cluster only through its native providers."""
    for spec in SPECS:
        if spec.guard in GUARD_ENTRY:
            assert spec.type == "python"
            assert spec.mutates
            assert spec.mutates_if is None  # always mutating: never allowed as a probe


def test_every_provider_has_a_timeout_rule_that_never_raises() -> None:
    hostile = {"duration": "${d}", "timeout": "nope"}
    for spec in SPECS:
        module, _, func = spec.name.rpartition(".")
        provider = {
            "type": spec.type,
            "module": module,
            "func": func,
            "arguments": hostile,
            "timeout": "x",
        }
        seconds = providers.timeout_seconds(provider)
        assert seconds is None or seconds > 0


@pytest.mark.parametrize("spec", [s for s in SPECS if s.type == "python"], ids=_id)
def test_argument_names_are_bound_like_chaoslib(spec: providers.ProviderSpec) -> None:
    """Unknown names and missing required ones are errors naming the argument, from the
    function's signature (chaoslib binds `inspect.signature` before calling)."""
    module, _, func = spec.name.rpartition(".")
    provider = {"type": "python", "module": module, "func": func, "arguments": {"bogus": 1}}
    found = providers.check_provider(provider, as_probe=False, resolved=False)
    unknown = [m for w, m in found if w == ("arguments", "bogus")]
    assert len(unknown) == 1
    assert f"{spec.name} takes no argument 'bogus'" in unknown[0]
    required = {p.name for p in spec.parameters() if p.required}
    missing = {m.rsplit("'", 2)[1] for w, m in found if w == ("arguments",)}
    assert missing == required
