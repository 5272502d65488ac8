"""Settings: safe defaults, env over file over defaults, errors that name the variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from daemon.settings import SettingsLoadError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("AFTERSHOCK_"):
            monkeypatch.delenv(name)


def test_defaults_are_the_safe_side() -> None:
    settings = load_settings()
    assert settings.safety.dry_run is True
    assert settings.safety.require_opt_in is True
    assert {"kube-system", "kube-public", "kube-node-lease"} <= set(
        settings.safety.protected_namespaces
    )
    assert settings.safety.respect_pdb is True
    assert settings.safety.allow_bare_pods is False
    assert settings.safety.process_allowlist == []
    assert settings.safety.on_limit == "refuse"
    assert settings.scheduling.max_concurrent_runs == 1


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERSHOCK_SAFETY__DRY_RUN", "false")
    monkeypatch.setenv("AFTERSHOCK_SAFETY__PROTECTED_NAMESPACES", "kube-system, prod")
    monkeypatch.setenv("AFTERSHOCK_SAFETY__ALLOW_UNPROTECTED_DEFAULTS", "true")  # see below
    monkeypatch.setenv("AFTERSHOCK_SAFETY__PROCESS_ALLOWLIST", '["vegeta"]')
    monkeypatch.setenv("AFTERSHOCK_SAFETY__COOLDOWN", "1h30m")
    monkeypatch.setenv("aftershock_logging__level", "debug")
    settings = load_settings()
    assert settings.safety.dry_run is False
    assert settings.safety.protected_namespaces == ["kube-system", "prod"]
    assert settings.safety.process_allowlist == ["vegeta"]
    assert settings.safety.cooldown == timedelta(minutes=90)
    assert settings.logging.level == "DEBUG"


def test_file_then_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("safety:\n  max_pods: 3\n  max_percent: 20\nstore:\n  path: /data/h.db\n")
    monkeypatch.setenv("AFTERSHOCK_SAFETY__MAX_PODS", "2")
    settings = load_settings(config)
    assert settings.safety.max_pods == 2  # env wins
    assert settings.safety.max_percent == 20  # file beats default
    assert settings.store.path == Path("/data/h.db")
    assert settings.safety.dry_run is True  # untouched default


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "AFTERSHOCK_SAFETY__DRY_RUN",
            "maybe",
            "AFTERSHOCK_SAFETY__DRY_RUN='maybe': Input should be a valid boolean, unable to interpret input (accepted: true, false, 1, 0, yes, no, on, off)",
        ),
        (
            "AFTERSHOCK_SAFETY__ON_LIMIT",
            "shrink",
            "AFTERSHOCK_SAFETY__ON_LIMIT='shrink': Input should be 'refuse' or 'cap'",
        ),
        (
            "AFTERSHOCK_SAFETY__MAX_PODS",
            "0",
            "AFTERSHOCK_SAFETY__MAX_PODS='0': Input should be greater than 0",
        ),
        ("AFTERSHOCK_SAFETY__MAX_PODS", "ten", "accepted: a whole number"),
        ("AFTERSHOCK_SAFETY__COOLDOWN", "soon", "'soon' is not a duration"),
        ("AFTERSHOCK_API__PORT", "70000", "Input should be less than or equal to 65535"),
        (
            "AFTERSHOCK_LOGGING__LEVEL",
            "loud",
            "Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
        ),
        ("AFTERSHOCK_SCHEDULING__TIMEZONE", "Europe/Pariss", "did you mean 'Europe/Paris'?"),
        ("AFTERSHOCK_SAFETY__PROTECTED_NAMESPACES", "[broken", "not a valid JSON list"),
        (
            "AFTERSHOCK_SAFETY__DRYRUN",
            "false",
            "AFTERSHOCK_SAFETY__DRYRUN: unknown setting; did you mean AFTERSHOCK_SAFETY__DRY_RUN?",
        ),
        (
            "AFTERSHOCK_SAFTY__DRY_RUN",
            "false",
            "unknown setting; did you mean AFTERSHOCK_SAFETY__DRY_RUN?",
        ),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsLoadError) as caught:
        load_settings()
    assert any(expected in line for line in caught.value.lines), caught.value.lines


def test_kubernetes_service_link_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERSHOCK_PORT", "tcp://10.0.0.1:8080")
    monkeypatch.setenv("AFTERSHOCK_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("AFTERSHOCK_PORT_8080_TCP_ADDR", "10.0.0.1")
    assert load_settings().api.port == 8080


def test_bad_file_values_name_the_key_and_file(tmp_path: Path) -> None:
    config = tmp_path / "s.yaml"
    config.write_text("safety:\n  max_pods: -1\n  dryrun: false\n")
    with pytest.raises(SettingsLoadError) as caught:
        load_settings(config)
    text = "\n".join(caught.value.lines)
    assert (
        f"safety.max_pods in {config} (or env AFTERSHOCK_SAFETY__MAX_PODS): Input should be greater than 0"
        in text
    )
    assert f"safety.dryrun in {config}" in text
    assert "unknown setting" in text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("safety: [1\n", "line 2: invalid YAML"),
        ("- a\n", "must be a mapping of groups"),
        (b"\xff\xfe", "not valid UTF-8"),
    ],
)
def test_unreadable_settings_file(tmp_path: Path, content: str | bytes, expected: str) -> None:
    config = tmp_path / "s.yaml"
    if isinstance(content, bytes):
        config.write_bytes(content)
    else:
        config.write_text(content)
    with pytest.raises(SettingsLoadError, match=expected):
        load_settings(config)


def test_settings_are_frozen() -> None:
    from pydantic import ValidationError

    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.safety.dry_run = False  # type: ignore[misc]
