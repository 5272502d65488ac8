"""Provider dispatch, derived from the one provider registry (daemon.catalog.providers).

The registry names each implementation as `module:function`; they are resolved once, here,
so a name the registry declares and the engine cannot run fails at import, not mid-run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from daemon.catalog import providers as registry
from daemon.engine.context import RunContext
from daemon.engine.errors import ActivityFailed
from daemon.engine.providers.http import run_http
from daemon.engine.providers.process import run_process


def resolve(implementation: str) -> Callable[..., Any]:
    """`package.module:function` -> the function."""
    module, _, name = implementation.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


NATIVE: dict[tuple[str, str], Callable[..., Any]] = {
    key: resolve(spec.implementation) for key, spec in registry.PYTHON.items()
}


def call(ctx: RunContext, provider: dict[str, Any], timeout: float) -> Any:
    """Run one (already substituted) provider; failures raise ActivityFailed."""
    kind = provider.get("type")
    if kind == "http":
        return run_http(provider, timeout)
    if kind == "process":
        return run_process(provider, timeout, list(ctx.settings.safety.process_allowlist))
    if kind == "python":
        function = NATIVE.get((provider.get("module", ""), provider.get("func", "")))
        if function is None:
            raise ActivityFailed(
                f"{provider.get('module')}.{provider.get('func')} is not supported"
            )
        return function(ctx, **(provider.get("arguments") or {}))
    raise ActivityFailed(f"unknown provider type {kind!r}")
