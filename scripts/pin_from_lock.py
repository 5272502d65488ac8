#!/usr/bin/env python3
"""Print hash-pinned requirement lines for packages, read from uv.lock.

scripts/bootstrap and the Dockerfile install the lock tool (uv) with
`pip install --require-hashes` from these lines before uv can install the rest, so even
the first package comes from the committed lock. Usage: pin_from_lock.py [--lock FILE] NAME...
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any


def pins(lock: dict[str, Any], name: str) -> str:
    found = [p for p in lock.get("package", []) if p.get("name") == name]
    if len(found) != 1:
        raise SystemExit(
            f"pin_from_lock.py: {name!r} appears {len(found)} times in the lock; expected once"
        )
    package = found[0]
    files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
    hashes = sorted({f["hash"] for f in files if f.get("hash", "").startswith("sha256:")})
    if not hashes:
        raise SystemExit(f"pin_from_lock.py: {name!r} has no sha256 hashes in the lock")
    return " ".join([f"{name}=={package['version']}", *(f"--hash={h}" for h in hashes)])


def main(argv: list[str]) -> int:
    lock_path = Path(__file__).resolve().parent.parent / "uv.lock"
    if argv[:1] == ["--lock"]:
        lock_path, argv = Path(argv[1]), argv[2:]
    if not argv:
        raise SystemExit("usage: pin_from_lock.py [--lock FILE] NAME...")
    lock = tomllib.loads(lock_path.read_text(encoding="utf-8"))
    for name in argv:
        sys.stdout.write(pins(lock, name) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
