"""Read a sink's URL and signing key at delivery time, never caching, never echoing them.

Read on each delivery: a Kubernetes Secret volume is updated in place on rotation, so the
next message uses the new value without a restart. Errors name the source, not the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from daemon.notify.config import SinkSettings

MAX_SECRET_BYTES = 64 * 1024


class SecretUnavailableError(Exception):
    """The file or variable holding a sink's URL or key is missing or empty."""


def _read_file(path: Path, what: str) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise SecretUnavailableError(f"{what}: cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_SECRET_BYTES:
        raise SecretUnavailableError(f"{what}: {path} is larger than {MAX_SECRET_BYTES} bytes")
    text = data.decode("utf-8", errors="replace").strip()
    if not text:
        raise SecretUnavailableError(f"{what}: {path} is empty")
    return text


def _read_env(name: str, environ: Mapping[str, str], what: str) -> str:
    text = environ.get(name, "").strip()
    if not text:
        raise SecretUnavailableError(f"{what}: environment variable {name} is not set")
    return text


def sink_url(sink: SinkSettings, environ: Mapping[str, str]) -> str:
    if sink.url is not None:
        return sink.url.get_secret_value()
    if sink.url_file is not None:
        return _read_file(sink.url_file, f"sink {sink.name} url_file")
    assert sink.url_env is not None  # the settings model requires one of the three
    return _read_env(sink.url_env, environ, f"sink {sink.name} url_env")


def signing_key(sink: SinkSettings, environ: Mapping[str, str]) -> bytes | None:
    if sink.secret_file is not None:
        return _read_file(sink.secret_file, f"sink {sink.name} secret_file").encode()
    if sink.secret_env is not None:
        return _read_env(sink.secret_env, environ, f"sink {sink.name} secret_env").encode()
    return None
