"""Simulated services: dependencies across namespaces (seed 004's layout), request counters
in Prometheus text format, and the endpoint-lag failure mode that raises the 5xx rate."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import FAST_TIMING, shop, wait_for


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _openfaas() -> dict[str, Any]:
    """Seed 004: the gateway in `openfaas`, the functions it calls in `openfaas-fn`."""
    return {
        "nodes": 2,
        "seed": 4,
        "timing": dict(FAST_TIMING),
        "namespaces": [
            {
                "name": "openfaas",
                "workloads": [
                    {
                        "name": "gateway",
                        "replicas": 1,
                        "labels": {"app": "gateway"},
                        "grace_period": 1,
                        "service": {"depends_on": ["openfaas-fn/astre"]},
                    }
                ],
            },
            {
                "name": "openfaas-fn",
                "workloads": [
                    {
                        "name": "astre",
                        "replicas": 1,
                        "labels": {"faas_function": "astre"},
                        "grace_period": 1,
                        "service": {"depends_on": ["planets"]},  # same namespace: openfaas-fn
                    },
                    {
                        "name": "planets",
                        "replicas": 1,
                        "labels": {"faas_function": "planets"},
                        "grace_period": 1,
                        "service": {},
                        # a replacement is Ready only after the tests' request has landed
                        "timing": {"ready_delay": "2s"},
                    },
                ],
            },
        ],
    }


def _counts(url: str) -> dict[tuple[str, str], float]:
    status, text = _get(url + "metrics")
    assert status == 200
    return {
        (s.labels["service"], s.labels["code"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "http_requests_total"
    }


def test_a_service_depends_on_a_service_in_another_namespace(make_sim) -> None:
    sim = make_sim(_openfaas())
    sim.ready("openfaas")
    sim.ready("openfaas-fn")
    gateway = sim.sim.service_url("openfaas", "gateway")
    status, text = wait_for(lambda: (r := _get(gateway))[0] == 200 and r, what="gateway answers")
    assert text.startswith("gateway answered by gateway-")

    planets = sim.core.list_namespaced_pod("openfaas-fn", label_selector="faas_function=planets")
    sim.core.delete_namespaced_pod(planets.items[0].metadata.name, "openfaas-fn")
    status, text = _get(gateway)
    assert status == 503
    assert text.strip() == (
        "gateway -> openfaas-fn/astre -> no ready endpoints for service openfaas-fn/planets"
    )
    wait_for(lambda: _get(gateway)[0] == 200, what="gateway answers again")


def test_a_missing_dependency_is_named_with_its_namespace(make_sim) -> None:
    spec = _openfaas()
    spec["namespaces"][0]["workloads"][0]["service"]["depends_on"] = ["openfaas-fn/nope"]
    sim = make_sim(spec)
    sim.ready("openfaas")
    status, text = _get(sim.sim.service_url("openfaas", "gateway"))
    assert (status, text.strip()) == (503, "gateway -> service openfaas-fn/nope does not exist")


def test_services_count_requests_by_code_in_prometheus_text(make_sim) -> None:
    spec = shop()
    greeter = next(w for w in spec["namespaces"][0]["workloads"] if w["name"] == "greeter")
    greeter["timing"] = {"ready_delay": "2s"}  # still down when the request lands
    sim = make_sim(spec)
    sim.ready()
    url = sim.sim.service_url("shop", "webapp")
    for _ in range(3):
        assert _get(url)[0] == 200
    greeter = sim.core.list_namespaced_pod("shop", label_selector="app=greeter").items[0]
    sim.core.delete_namespaced_pod(greeter.metadata.name, "shop")
    assert _get(url)[0] == 503
    counts = _counts(url)
    assert counts[("webapp", "200")] == 3
    assert counts[("webapp", "503")] == 1
    _, text = _get(url + "metrics")
    errors = [
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "http_request_errors_total"
    ]
    assert errors == [1]
    assert _counts(url) == counts  # scrapes are not counted as requests


def test_endpoint_lag_makes_a_killed_pod_answer_502_for_a_while(make_sim) -> None:
    from tests.integration.conftest import shop

    spec = shop()
    webapp = spec["namespaces"][0]["workloads"][0]
    webapp["service"]["endpoint_lag"] = "2s"
    webapp["timing"] = {"shutdown_delay": "3s"}
    sim = make_sim(spec)
    sim.ready()
    url = sim.sim.service_url("shop", "webapp")
    pod = sim.core.list_namespaced_pod("shop", label_selector="app=webapp").items[0]
    sim.core.delete_namespaced_pod(pod.metadata.name, "shop")
    codes = [_get(url)[0] for _ in range(12)]
    assert codes.count(502) >= 3, codes  # one in three or four requests hit the stopped pod
    assert set(codes) <= {200, 502}
    wait_for(lambda: all(_get(url)[0] == 200 for _ in range(8)), 10, "the endpoint removed")
    assert _counts(url)[("webapp", "502")] >= codes.count(502)
