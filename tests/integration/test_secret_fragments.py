"""Hostile review F11a: a problem with a secret-bearing value never quotes a piece of it.

`label_selector: "a=${tok}"` with tok `Sup3r s3cret/val+ue` once gave `... found
's3cret/val+ue'` in the journal: the whole value was masked, the parser's fragment was
not. Problems with values that carry a secret are now generic; checked in the whole
journal (as JSON) and against the simulator's ground truth (nothing disrupted).
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from daemon.catalog.extension import AftershockSettings
from daemon.engine.context import RunContext
from daemon.engine.runner import Runner
from daemon.kube.client import Connection, Kube
from tests.integration.engine_helpers import greeter_experiment, run_experiment, settings
from tests.integration.test_template_values import kill

# Words of these secrets appear nowhere else in a journal (unlike "back" in "rollbacks").
SECRETS = [
    "Sup3r s3cret/val+ue",  # the reviewer's: the parser quotes the part after the space
    "b4ck\\sl4sh-Secr3t",  # repr doubles the backslash: the masked form would not match
    "qu0te'and\"b0th-Secr3t",
    "l1ne\nbr3ak-Secr3t",
    "L0ng" + "-s3cr3t-w0rd" * 12,  # cut at 80 characters by the message
    "ünïcödé-Sécr3t wörd",
]


def pieces(secret: str) -> set[str]:
    """The secret, its escaped forms, and every word of 4 or more characters in it."""
    return {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        *re.findall(r"\w{4,}", secret),
    } - {""}


def secret_experiment(secret: str, **arguments: str) -> dict:
    experiment = greeter_experiment(method=[kill(**arguments)])
    experiment["secrets"] = {"k8s": {"tok": secret}}
    return experiment


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize(
    "arguments",
    [
        {"label_selector": "a=${tok}"},
        {"label_selector": "${tok}"},
        {"ns": "${tok}"},
        {"mode": "${tok}"},
        {"name_pattern": "([${tok}"},
    ],
)
def test_no_piece_of_a_secret_reaches_the_journal(sim, secret, arguments) -> None:
    sim.ready()
    result = run_experiment(sim, secret_experiment(secret, **arguments))
    assert (result.outcome, result.reason) == ("failed", "invalid_configuration")
    error = result.journal["aftershock"]["error"]
    assert "contains a secret" in error, error
    text = json.dumps(result.journal, ensure_ascii=False)
    escaped = json.dumps(result.journal)
    for piece in pieces(secret):
        assert piece not in text, piece
        assert piece not in escaped, piece
    assert sim.timeline() == []


def test_a_value_without_a_secret_keeps_its_details(sim) -> None:
    sim.ready()
    experiment = secret_experiment("Sup3r s3cret/val+ue", label_selector="a=${plain}")
    experiment["configuration"]["plain"] = "b c"
    result = run_experiment(sim, experiment)
    assert (result.outcome, result.reason) == ("failed", "invalid_configuration")
    assert "not a valid selector" in result.journal["aftershock"]["error"]


def test_a_credential_from_the_environment_is_hidden_too(sim) -> None:
    sim.ready()
    experiment = greeter_experiment(method=[kill(label_selector="a=${api_token}")])
    experiment["configuration"]["api_token"] = {"type": "env", "key": "API_TOKEN"}
    secret = "Env t0kxn/fr4g+mxnt"
    result = run_experiment(sim, experiment, environ={"API_TOKEN": secret})
    assert (result.outcome, result.reason) == ("failed", "invalid_configuration")
    text = json.dumps(result.journal, ensure_ascii=False)
    assert not any(piece in text for piece in pieces(secret)), text
    assert sim.timeline() == []


def test_a_replayed_rollback_shows_no_piece_either(sim) -> None:
    """Rollbacks replayed after a crash skip the run-start check: the second one is generic."""
    sim.ready()
    secret = "Sup3r s3cret/val+ue"
    experiment = secret_experiment(secret)
    experiment["method"] = []
    experiment["rollbacks"] = [copy.deepcopy(kill(label_selector="a=${tok}"))]
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=5))
    try:
        ctx = RunContext(
            experiment_id="t",
            run_id="t-1",
            settings=settings(),
            aftershock=AftershockSettings(),
            kube=kube,
            seed=1,
            dry_run=False,
            environ={"WEBAPP_URL": sim.sim.service_url("shop", "webapp")},
        )
        records = Runner(ctx, experiment).rollbacks_only()
    finally:
        kube.close()
    assert [r["status"] for r in records] == ["failed"]
    text = json.dumps(records, ensure_ascii=False)
    assert "arguments.label_selector" in text
    assert not any(piece in text for piece in pieces(secret)), text
    assert sim.timeline() == []
