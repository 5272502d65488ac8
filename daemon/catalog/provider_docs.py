"""The provider reference table, generated from the registry (daemon.catalog.providers).

docs/reference/providers.md holds the table between PROVIDERS_BEGIN and PROVIDERS_END;
tests/unit/test_provider_docs.py fails when it differs from `render_provider_table()`.
Rewrite it in place with `python -m daemon.catalog.provider_docs [path]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from daemon.catalog.provider_spec import Arg, ProviderSpec
from daemon.catalog.providers import registry

PROVIDERS_BEGIN = "<!-- providers:begin -->"
PROVIDERS_END = "<!-- providers:end -->"
DEFAULT_PATH = Path("docs/reference/providers.md")
_HEADER = (
    "| Provider | Type | Meant as | Mutates | Guard | Arguments | Default timeout |",
    "|---|---|---|---|---|---|---|",
)


def _argument(name: str, arg: Arg, required: bool) -> str:
    text = f"`{name}` ({arg.kind.replace('|', ' or ')}"
    if arg.choices:
        text += ": " + ", ".join(f"`{c}`" for c in arg.choices)
    return text + (", required)" if required else ")")


def _arguments(spec: ProviderSpec) -> str:
    if spec.type == "python":
        listed = [
            _argument(p.name, spec.arguments.get(p.name, Arg("any")), p.required)
            for p in spec.parameters()
        ]
    else:
        listed = [_argument(name, arg, arg.required) for name, arg in spec.fields.items()]
    return "; ".join(listed) or "none"


def _mutates(spec: ProviderSpec) -> str:
    if not spec.mutates:
        return "no"
    return "with a method other than GET, HEAD, OPTIONS" if spec.mutates_if else "yes"


def _row(spec: ProviderSpec) -> str:
    name = f"`{spec.name}`" + (f" ({spec.note})" if spec.note else "")
    cells = (
        name,
        spec.type,
        spec.meant_as,
        _mutates(spec),
        spec.guard,
        _arguments(spec),
        spec.timeout.doc,
    )
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def render_provider_table() -> str:
    """The Markdown table of every provider, one row each, in the registry's order."""
    return "\n".join([*_HEADER, *(_row(spec) for spec in registry())]) + "\n"


def replace_table(text: str, table: str) -> str:
    """`text` with the part between the markers replaced by `table`; ValueError without them."""
    start = text.find(PROVIDERS_BEGIN)
    end = text.find(PROVIDERS_END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {PROVIDERS_BEGIN} ... {PROVIDERS_END} are missing")
    return text[: start + len(PROVIDERS_BEGIN)] + "\n" + table + text[end:]


def table_in(text: str) -> str:
    """What a page holds between the markers (ValueError without them)."""
    start = text.find(PROVIDERS_BEGIN)
    end = text.find(PROVIDERS_END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {PROVIDERS_BEGIN} ... {PROVIDERS_END} are missing")
    return text[start + len(PROVIDERS_BEGIN) : end].lstrip("\n")


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
        path.write_text(replace_table(text, render_provider_table()), encoding="utf-8")
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"{path}: {exc}\n")
        return 1
    sys.stdout.write(f"{path}: provider table rewritten from the registry\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
