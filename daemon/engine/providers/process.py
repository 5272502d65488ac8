"""The `process` provider, for executables on the allow-list only (a catalog is no remote shell)."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from daemon.engine.context import ACTIVITY_CANCELLED
from daemon.engine.errors import ActivityFailed

if TYPE_CHECKING:
    from daemon.engine.context import RunContext


def run_process(
    provider: dict[str, Any],
    timeout: float,
    allowlist: list[str],
    over: threading.Event | None = None,
) -> dict[str, Any]:
    path = str(provider["path"])
    if path not in allowlist:
        raise ActivityFailed(
            f"process {path!r} is not on the allow-list (settings safety.process_allowlist)"
        )
    executable = shutil.which(path)
    if executable is None:
        raise ActivityFailed(f"process {path!r} was not found on PATH")
    arguments = provider.get("arguments") or []
    if isinstance(arguments, str):
        import shlex

        argv = shlex.split(arguments)
    elif isinstance(arguments, dict):
        argv = [
            part
            for key, value in arguments.items()
            for part in ([key] if value in ("", None) else [key, str(value)])
        ]
    else:
        argv = [str(a) for a in arguments]
    limit = time.monotonic() + float(provider.get("timeout") or timeout)
    try:
        child = subprocess.Popen(  # noqa: S603 - allow-listed executable, no shell
            [executable, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: what it starts is killed with it
        )
    except OSError as exc:
        raise ActivityFailed(f"process {path!r} could not run: {exc}") from None
    with child, _live(child):
        # Polled, not one blocking wait: an activity cancelled (its timeout, the run stopped or
        # over) kills its process group, which must not go on acting after the run let it go.
        while True:
            try:
                stdout, stderr = child.communicate(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                why = _cancelled(over)
                if why is None and time.monotonic() < limit:
                    continue
                _kill_group(child)
                raise ActivityFailed(
                    "activity took too long to complete"
                    if why is None
                    else f"process killed: {why}"
                ) from None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)  # nothing it left in the background goes on
    return {"status": child.returncode, "stdout": stdout, "stderr": stderr}


_LIVE: set[int] = set()  # process groups of activities still running
_LIVE_LOCK = threading.Lock()


@contextlib.contextmanager
def _live(child: subprocess.Popen[str]) -> Iterator[None]:
    with _LIVE_LOCK:
        _LIVE.add(child.pid)
    try:
        yield
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(child.pid)


@atexit.register
def _kill_live_groups() -> None:
    """At exit (`aftershock run` stopped by SIGTERM, the daemon's shutdown), the process of an
    activity the run let go may still run in a thread about to vanish: its group goes too."""
    with _LIVE_LOCK:
        groups = list(_LIVE)
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def _kill_group(child: subprocess.Popen[str]) -> None:
    """SIGKILL to the process's whole group (the tools a script started too), then its
    pipes are closed rather than drained: a tool that left the group may still hold them."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        child.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.communicate(timeout=1)
    for pipe in (child.stdout, child.stderr):
        if pipe is not None:
            pipe.close()


def _cancelled(over: threading.Event | None) -> str | None:
    token = ACTIVITY_CANCELLED.get()
    if token is not None and token.is_set():
        return "the activity was cancelled"
    if over is not None and over.is_set():
        return "the run is over"
    return None


def process_provider(ctx: RunContext, provider: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The registry's calling convention for a non-Python provider (provider_spec)."""
    return run_process(
        provider, timeout, list(ctx.settings.safety.process_allowlist), over=ctx.over
    )
