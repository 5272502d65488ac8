"""The `process` provider, for executables on the allow-list only (a catalog is no remote shell)."""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from daemon.engine.errors import ActivityFailed

if TYPE_CHECKING:
    from daemon.engine.context import RunContext


def run_process(provider: dict[str, Any], timeout: float, allowlist: list[str]) -> dict[str, Any]:
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
    try:
        completed = subprocess.run(  # noqa: S603 - allow-listed executable, no shell
            [executable, *argv],
            capture_output=True,
            text=True,
            timeout=provider.get("timeout") or timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ActivityFailed("activity took too long to complete") from None
    except OSError as exc:
        raise ActivityFailed(f"process {path!r} could not run: {exc}") from None
    return {"status": completed.returncode, "stdout": completed.stdout, "stderr": completed.stderr}


def process_provider(ctx: RunContext, provider: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The registry's calling convention for a non-Python provider (provider_spec)."""
    return run_process(provider, timeout, list(ctx.settings.safety.process_allowlist))
