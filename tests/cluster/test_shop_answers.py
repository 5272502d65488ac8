"""Seed 001 on a real cluster: the shop's webapp, run by `aftershock demo-app`, answers 200
through its Service, fails while its only greeter is gone, and answers again once the
replacement is ready. Asked through the API server's Service proxy, so the test needs no
route into the cluster."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes.client.rest import ApiException

from tests.cluster.backend import Backend, NamespaceWatch, wait_for
from tests.cluster.experiments import experiment, run_engine, terminate


def webapp(backend: Backend, namespace: str) -> tuple[int, str]:
    try:
        text = backend.core.connect_get_namespaced_service_proxy(
            "webapp:http", namespace, _request_timeout=15
        )
    except ApiException as exc:
        return int(exc.status or 0), str(exc.body or "")
    return 200, str(text)


@pytest.mark.real_cluster_only(
    reason="the simulator runs no containers: no demo-app answers behind a Service created"
    " through its API (its own listeners serve only the shop of a cluster file)"
)
def test_the_webapp_fails_while_its_only_greeter_is_gone(backend: Backend, shop_ns) -> None:
    _status, text = wait_for(
        lambda: (answer := webapp(backend, shop_ns))[0] == 200 and answer,
        60 * backend.slow,
        "the webapp answering 200",
    )
    assert text.startswith("webapp answered by webapp-"), text
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def ask() -> None:
        answers.append(webapp(backend, shop_ns))

    def sample() -> None:  # a request every 0.5 s, each in its own thread: a slow 503 blocks none
        while not stop.wait(0.5):
            threading.Thread(target=ask, daemon=True).start()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with NamespaceWatch(backend, shop_ns) as seen:
            result = run_engine(
                backend.kubeconfig,
                experiment(shop_ns, [terminate(shop_ns, "app=greeter")]),
                aftershock={"recovery": {"timeout": "180s"}},
            )
            (disruption,) = seen.disruptions()
        time.sleep(5)  # answers to requests sent during the outage (3.5 s delay) come in
    finally:
        stop.set()
        sampler.join(timeout=10)
    assert disruption.app == "greeter"
    assert result.outcome == "passed", result.journal["aftershock"]  # its probes are pods only
    failures = [text for status, text in answers if status != 200]
    assert failures, "no request saw the outage"
    assert all("webapp -> greeter" in text for text in failures), failures
    # The recovery wait is over: the greeter is back, so the webapp answers again.
    assert webapp(backend, shop_ns)[0] == 200


@pytest.mark.real_cluster_only(
    reason="the simulator runs no containers: no demo-app answers behind a Service created"
    " through its API"
)
def test_the_webapp_answers_the_configured_failure_without_a_greeter(
    backend: Backend, shop_ns
) -> None:
    backend.apps.patch_namespaced_deployment_scale("greeter", shop_ns, {"spec": {"replicas": 0}})
    status, text = wait_for(
        lambda: (answer := webapp(backend, shop_ns))[0] != 200 and answer,
        60 * backend.slow,
        "the webapp failing",
    )
    assert status == 503, text
    assert "webapp -> greeter" in text
    backend.apps.patch_namespaced_deployment_scale("greeter", shop_ns, {"spec": {"replicas": 1}})
    wait_for(lambda: webapp(backend, shop_ns)[0] == 200, 60 * backend.slow, "the webapp again")
