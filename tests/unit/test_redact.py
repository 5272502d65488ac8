"""Secret redaction (daemon/engine/redact.py) as properties: no secret survives, whatever
structure carries it; nothing else changes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from daemon.engine.redact import MASK, redact, redact_journal, sensitive_values
from daemon.store.history import StoreError
from daemon.store.pending import PendingWrites

secrets_text = st.text(min_size=4, max_size=24)
plain = st.text(alphabet="abcdefgh -_:/", max_size=20)


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def carrier(secret: str) -> st.SearchStrategy[Any]:
    """JSON-like values with the secret embedded (raw and URL-encoded) anywhere."""
    leaf = st.one_of(
        plain,
        st.builds(lambda a, b: f"{a}{secret}{b}", plain, plain),
        st.builds(lambda a: f"http://h/?t={quote_plus(secret)}&{a}", plain),
        st.builds(lambda a: f"GET /{quote(secret, safe='')} {a}", plain),
        st.integers(),
        st.none(),
    )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(plain, inner, max_size=4),
        ),
        max_leaves=20,
    )


@given(st.data(), secrets_text)
def test_no_secret_survives_in_any_structure(data: st.DataObject, secret: str) -> None:
    value = data.draw(carrier(secret))
    needles = sensitive_values({"scope": {"key": secret}})
    for text in strings(redact(value, needles)):
        assert secret not in text
        assert quote_plus(secret) not in text
        assert quote(secret, safe="") not in text


@given(st.recursive(plain, lambda inner: st.lists(inner, max_size=3), max_leaves=10))
def test_values_without_secrets_are_unchanged(value: Any) -> None:
    assert redact(value, sensitive_values({"api": {"token": "zzzz-QQQ"}})) == value


def test_the_rule_secrets_and_credential_named_env_configuration() -> None:
    raw = {
        "web_app_url": {"type": "env", "key": "WEBAPP_URL"},
        "api_token": {"type": "env", "key": "SOME_VAR"},
        "db": {"type": "env", "key": "DB_PASSWORD"},
        "literal_token": "inline-value",  # not from the environment: not a secret by rule
    }
    configuration = {
        "web_app_url": "http://web",
        "api_token": "tok-1234",
        "db": "hunter22",
        "literal_token": "inline-value",
    }
    needles = sensitive_values(
        {"s": {"a": "abc", "b": "long-enough", "n": 12345}}, configuration, raw
    )
    assert set(needles) >= {"long-enough", "12345", "tok-1234", "hunter22"}
    assert "abc" not in needles  # shorter than 4 characters
    assert "http://web" not in needles
    assert "inline-value" not in needles
    assert redact({"e": "x tok-1234 hunter22"}, needles) == {"e": f"x {MASK} {MASK}"}


def test_pending_writes_keep_the_newest_and_retry_in_order() -> None:
    written: list[str] = []
    broken = [True]

    def write(value: str):
        def run() -> None:
            if broken[0]:
                raise StoreError("read-only")
            written.append(value)

        return run

    pending = PendingWrites()
    assert pending.attempt("halt", write("halt-1")) is False
    assert pending.attempt("finish:r", write("finish")) is False
    assert pending.attempt("halt", write("halt-2")) is False  # replaces halt-1
    assert "halt" in pending
    assert pending.flush() == "read-only"
    broken[0] = False
    assert pending.flush() == ""
    assert written == ["halt-2", "finish"]
    assert "halt" not in pending


def test_a_journal_keeps_what_the_daemon_reads_back() -> None:
    """A secret that happens to equal a namespace must not hide a disruption from the
    cooldown and the daily budget (nor a metric label); free text is still masked."""
    disrupted = [{"pod": "shop-1", "workload": "shop/Deployment/web", "method": "delete"}]
    journal = {
        "status": "completed",
        "run": [{"exception": ["GET http://h/?t=shop failed"]}],
        "aftershock": {
            "outcome": "passed",
            "reason": "",
            "disrupted": disrupted,
            "recovery": [{"namespace": "shop", "name": "web", "error": "shop down"}],
            "hypothesis_checks": [{"phase": "after", "met": True, "errored": False}],
            "error": "token shop",
        },
    }
    masked = redact_journal(journal, sensitive_values({"s": {"t": "shop"}}))
    record = masked["aftershock"]
    assert record["disrupted"] == disrupted
    assert record["recovery"] == [{"namespace": "shop", "name": "web", "error": f"{MASK} down"}]
    assert record["error"] == f"token {MASK}"
    assert masked["run"][0]["exception"] == [f"GET http://h/?t={MASK} failed"]
    assert journal["aftershock"]["error"] == "token shop"  # the input is not changed


def test_declared_secrets_are_masked_without_resolution() -> None:
    needles = sensitive_values(
        {},
        None,
        {"db_password": {"type": "env", "key": "DB_PW"}},
        raw_secrets={"a": {"t": "inline-secret", "e": {"type": "env", "key": "TOKEN_VAR"}}},
        environ={"TOKEN_VAR": "from-the-env", "DB_PW": "pw-from-env"},
    )
    assert {"inline-secret", "from-the-env", "pw-from-env"} <= set(needles)
    assert "TOKEN_VAR" not in needles  # names are not values
