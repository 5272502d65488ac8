"""Shared helpers: minimal valid experiments and file writers."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from daemon.catalog.checks import GlobalLimits
from daemon.catalog.loader import LoadOptions

REPO = Path(__file__).resolve().parent.parent

MINIMAL: dict[str, Any] = {
    "title": "kill one greeter",
    "description": "a minimal valid experiment",
    "steady-state-hypothesis": {
        "title": "webapp answers",
        "probes": [
            {
                "type": "probe",
                "name": "webapp-ok",
                "tolerance": 200,
                "provider": {"type": "http", "url": "http://webapp.shop/", "timeout": 3},
            }
        ],
    },
    "method": [
        {
            "type": "action",
            "name": "kill-greeter",
            "provider": {
                "type": "python",
                "module": "chaosk8s.pod.actions",
                "func": "terminate_pods",
                "arguments": {"label_selector": "app=greeter", "ns": "shop", "qty": 1},
            },
        }
    ],
    "rollbacks": [],
}


@pytest.fixture
def experiment() -> dict[str, Any]:
    """A fresh deep copy of a minimal valid experiment, to mutate per test."""
    return copy.deepcopy(MINIMAL)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write a dict (as YAML or JSON by suffix), a str or bytes to tmp_path/name."""

    def _write(name: str, content: Any, directory: Path | None = None) -> Path:
        path = (directory or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        elif name.endswith(".json"):
            path.write_text(json.dumps(content, indent=2), encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def options() -> LoadOptions:
    return LoadOptions(globals=GlobalLimits(prometheus_url="http://prom:9090", max_pods=10))
