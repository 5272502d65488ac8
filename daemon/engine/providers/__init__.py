"""Provider dispatch, from the one provider registry (daemon.catalog.providers).

The registry names each implementation as `module:function`; the spec resolves it on first
use (`ProviderSpec.function`), and tests/unit/test_provider_registry.py resolves every one,
so a name the registry declares and the engine cannot run fails the suite, not a run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daemon.catalog import providers as registry
from daemon.catalog.provider_spec import resolve as _resolve
from daemon.engine.context import RunContext
from daemon.engine.errors import ActivityFailed


def resolve(implementation: str) -> Callable[..., Any]:
    """`package.module:function` -> the function (cached)."""
    return _resolve(implementation)


def call(ctx: RunContext, provider: dict[str, Any], timeout: float) -> Any:
    """Run one (already substituted) provider; failures raise ActivityFailed."""
    spec = registry.spec_for(provider)
    if spec is None:
        if provider.get("type") == "python":
            raise ActivityFailed(
                f"{provider.get('module')}.{provider.get('func')} is not supported"
            )
        raise ActivityFailed(f"unknown provider type {provider.get('type')!r}")
    if spec.type == "python":
        return spec.function()(ctx, **(provider.get("arguments") or {}))
    return spec.function()(ctx, provider, timeout)
