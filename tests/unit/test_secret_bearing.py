"""Hostile review F11a as a property: whatever the secret, no run-time problem quotes it."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.catalog.checks import resolved_problems
from daemon.engine.substitution import substitute

ARGUMENTS = ["label_selector", "ns", "mode", "name_pattern", "value", "grace_period"]


def experiment(argument: str, template: str) -> dict:
    return {
        "title": "t",
        "description": "d",
        "secrets": {"k": {"tok": None}},
        "method": [
            {
                "type": "action",
                "name": "kill",
                "provider": {
                    "type": "python",
                    "module": "aftershock.pods",
                    "func": "kill",
                    "arguments": {"ns": "shop", "label_selector": "app=x", argument: template},
                },
            }
        ],
    }


secrets = st.text(min_size=4, max_size=120).filter(lambda s: len(s.strip()) >= 4)
templates = st.sampled_from(["${tok}", "a=${tok}", "$tok", "([${tok}", "x ${tok} y"])


@settings(max_examples=300, deadline=None)
@given(secrets, st.sampled_from(ARGUMENTS), templates)
def test_no_problem_quotes_a_piece_of_a_secret(secret, argument, template) -> None:
    data = experiment(argument, template)
    data["secrets"]["k"]["tok"] = secret
    found = resolved_problems(data, lambda value: substitute(value, {}, {"k": {"tok": secret}}))
    text = "\n".join(found)
    # The generic message's own words are not pieces of the secret.
    own = "not valid after substitution; the value and the details are not shown because it "
    own += f"contains a secret method[0].provider.arguments.{argument}: '{argument}'"
    for piece in {secret, repr(secret)[1:-1], *re.findall(r"\w{4,}", secret)}:
        if piece not in own:
            assert piece not in text, (piece, text)
    assert all("contains a secret" in line for line in found), found
