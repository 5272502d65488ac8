"""Read one YAML or JSON document from disk within fixed bounds of size, depth and expansion.

Experiment files come from users and ConfigMaps; a bad one must produce an error naming
its line and column, never a traceback, a hang or an out-of-memory kill. PyYAML's own
composer is recursive (deep nesting overflows), expands aliases without limit (the
"billion laughs" bomb) and silently keeps the last of duplicate keys. So YAML is read from
libyaml's event stream into plain Python values here, iteratively, stopping the stream as
soon as a limit is crossed, and recording where every value sits so later validation
errors can point at a line. Scalars keep PyYAML SafeLoader semantics (YAML 1.1), which is
what `chaos run` itself uses.
"""

from __future__ import annotations

import copy
import errno
import json
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

PathKey = tuple[str | int, ...]
Format = Literal["yaml", "json"]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SAFE_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")
)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


@dataclass(frozen=True)
class ReadLimits:
    """Bounds for one document; the defaults suit hand-written experiment files."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 64
    max_nodes: int = 100_000


class DocumentError(Exception):
    """The file could not be read as one document; carries where, when known (1-based)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass
class Document:
    """Parsed data plus a lazily built map from value paths to source positions."""

    data: Any
    source: str
    format: Format
    _positions: dict[PathKey, tuple[int, int]] | None = field(default=None, repr=False)
    _position_builder: Callable[[], dict[PathKey, tuple[int, int]]] | None = field(
        default=None, repr=False
    )

    def locate(self, path: PathKey) -> tuple[int, int] | None:
        """Line and column of the value at `path`, or of its nearest located ancestor."""
        if self._positions is None:
            builder, self._position_builder = self._position_builder, None
            try:
                self._positions = builder() if builder else {}
            except DocumentError:
                self._positions = {}
        probe = tuple(path)
        while True:
            found = self._positions.get(probe)
            if found is not None or not probe:
                return found
            probe = probe[:-1]


def detect_format(path: Path) -> Format:
    return "json" if path.suffix.lower() == ".json" else "yaml"


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a regular file of at most `max_bytes`, refusing FIFOs, devices and loops."""
    try:
        info = path.stat()
    except OSError as exc:
        raise DocumentError(describe_os_error(exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise DocumentError("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise DocumentError("is not a regular file (device, FIFO or socket); refusing to read it")
    if info.st_size > max_bytes:
        raise DocumentError(
            f"file is {info.st_size:,} bytes, over the limit of {max_bytes:,} bytes "
            "(settings catalog.max_file_bytes)"
        )
    try:
        with open(path, "rb") as handle:  # noqa: PTH123 - we need the raw handle for a bounded read
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise DocumentError(describe_os_error(exc)) from None
    if len(raw) > max_bytes:
        raise DocumentError(
            f"file grew past the limit of {max_bytes:,} bytes while being read "
            "(settings catalog.max_file_bytes)"
        )
    return raw


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop; the link never reaches a file"
    if exc.errno == errno.ENOENT:
        return "does not exist (or is a dangling symbolic link)"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return exc.strerror or str(exc)


def decode_text(raw: bytes) -> str:
    """UTF-8 (with or without BOM) only; binary content is named as such."""
    nul = raw.find(b"\x00")
    if nul != -1:
        line = raw.count(b"\n", 0, nul) + 1
        raise DocumentError("binary content (NUL byte); expected UTF-8 text", line=line)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DocumentError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            line=line,
            column=column,
        ) from None


def read_document(path: Path, limits: ReadLimits) -> Document:
    """Read and parse one file; every failure is a DocumentError with a location."""
    text = decode_text(read_bytes(path, limits.max_bytes))
    return parse_text(text, detect_format(path), limits, str(path))


def parse_text(text: str, fmt: Format, limits: ReadLimits, source: str = "<text>") -> Document:
    if not text.strip():
        raise DocumentError("file is empty")
    too_deep = flow_too_deep(text, limits.max_depth)
    if too_deep is not None:
        raise _too_deep(limits, *too_deep)
    if fmt == "json":
        data = _parse_json(text, limits)
        document = Document(
            data, source, fmt, _position_builder=lambda: _yaml_positions(text, limits)
        )
    else:
        data, positions = _parse_yaml(text, limits, want_positions=True)
        document = Document(data, source, fmt, _positions=positions)
    if data is None:
        raise DocumentError("file has no content (only comments, blank lines or null)")
    return document


def _too_deep(
    limits: ReadLimits, line: int | None = None, column: int | None = None
) -> DocumentError:
    return DocumentError(
        f"nested deeper than {limits.max_depth} levels (settings catalog.max_depth)", line, column
    )


_FLOW_SCAN = re.compile(r"""[\[\]{}'"#\n]""")
_DOUBLE_QUOTED_REST = re.compile(r'(?:[^"\\]|\\.)*"', re.DOTALL)
_FLOW_TOKEN_START = frozenset(" \t\n\r[{,:")


def flow_too_deep(text: str, max_depth: int) -> tuple[int, int] | None:
    """Where `[`/`{` nesting first passes max_depth (1-based line, column), before any parser.

    libyaml's scanner reads a flow collection ahead of the events it hands us, so since
    PyYAML 6.0.4 its own limit (1,000 levels, its own message) would fire before ours, and
    json's recursion limit likewise. Quoted scalars and comments are skipped; in block
    context a bracket counts only where a token starts (a plain scalar may contain one).
    Linear in the text. It may over-count only in pathological text (a block scalar made of
    brackets), and then errs on the side of refusing.
    """
    depth, line, line_start, pos = 0, 1, 0, 0
    while (match := _FLOW_SCAN.search(text, pos)) is not None:
        i = match.start()
        char = text[i]
        pos = i + 1
        if char == "\n":
            line, line_start = line + 1, i + 1
            continue
        if depth == 0 and not _block_token_start(text, line_start, i):
            newline = text.find("\n", i)  # a plain scalar: the rest of its line is text
            pos = len(text) if newline < 0 else newline
            continue
        if depth > 0 and char in "#'\"" and text[i - 1] not in _FLOW_TOKEN_START:
            continue  # inside a plain scalar in flow context
        if char in "#'\"":
            pos = _skip_scalar_or_comment(text, i)
            if pos < 0:
                return None  # unterminated: the parser reports it with its position
            newlines = text.count("\n", i, pos)
            if newlines:
                line, line_start = line + newlines, text.rfind("\n", i, pos) + 1
            continue
        if char in "[{":
            depth += 1
            if depth > max_depth:
                return line, i - line_start + 1
        elif depth > 0:
            depth -= 1
    return None


def _block_token_start(text: str, line_start: int, i: int) -> bool:
    """In block context: only indentation, or a `:`/`-`/`?` indicator and blanks, precede i."""
    j = i
    while j > line_start and text[j - 1] in " \t":
        j -= 1
    return j == line_start or (j < i and text[j - 1] in ":-?")


def _skip_scalar_or_comment(text: str, start: int) -> int:
    """Index just past the comment (at its newline) or quoted scalar opened at `start`; -1."""
    if text[start] == "#":
        newline = text.find("\n", start)
        return len(text) if newline < 0 else newline
    if text[start] == '"':
        match = _DOUBLE_QUOTED_REST.match(text, start + 1)
        return match.end() if match else -1
    pos = start + 1
    while True:
        end = text.find("'", pos)
        if end < 0:
            return -1
        if text[end + 1 : end + 2] != "'":
            return end + 1
        pos = end + 2  # '' is an escaped quote


# --------------------------------------------------------------------------- JSON


def _parse_json(text: str, limits: ReadLimits) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise DocumentError(f"duplicate key {key!r} in a JSON object")
            out[key] = value
        return out

    def constant(name: str) -> Any:
        raise DocumentError(f"{name} is not valid JSON")

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except DocumentError as exc:
        # json gives no position for these; the YAML pass over the same text usually can.
        try:
            _parse_yaml(text, limits, want_positions=False)
        except DocumentError as located:
            if located.line is not None:
                raise located from None
        raise exc from None
    except json.JSONDecodeError as exc:
        raise DocumentError(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise DocumentError(
            f"nested deeper than {limits.max_depth} levels (settings catalog.max_depth)"
        ) from None
    _check_shape(data, limits)
    return data


def _check_shape(data: Any, limits: ReadLimits) -> None:
    """Depth and size limits for already-parsed data, iteratively."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise DocumentError(
                f"document has more than {limits.max_nodes:,} values (settings catalog.max_nodes)"
            )
        if isinstance(value, dict | list):
            if depth > limits.max_depth:
                raise DocumentError(
                    f"nested deeper than {limits.max_depth} levels (settings catalog.max_depth)"
                )
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


# --------------------------------------------------------------------------- YAML


@dataclass
class _Frame:
    container: dict[str, Any] | list[Any]
    path: PathKey
    anchor: str | None
    mark: tuple[int, int]
    size: int = 1
    key: str | None = None
    key_mark: tuple[int, int] | None = None
    expect_key: bool = True
    merges: list[dict[str, Any]] = field(default_factory=list)
    merge_pending: bool = False
    key_lines: dict[str, int] = field(default_factory=dict)


def _mark(event: Any) -> tuple[int, int]:
    return (event.start_mark.line + 1, event.start_mark.column + 1)


def _events(text: str) -> Iterator[Any]:
    try:
        yield from yaml.parse(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise DocumentError(f"invalid YAML: {problem}", line, column) from None
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {exc}") from None


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _construct_scalar(event: Any) -> Any:
    tag = event.tag
    if tag in (None, "!"):
        tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
    elif tag.startswith("!!"):
        tag = "tag:yaml.org,2002:" + tag[2:]
    if tag == _STR_TAG:
        return event.value
    if tag not in _SAFE_SCALAR_TAGS:
        raise DocumentError(
            f"YAML tag {_short_tag(event.tag or tag)!r} is not allowed; use plain strings, "
            "numbers, booleans, null and dates",
            *_mark(event),
        )
    try:
        return _CONSTRUCTOR.construct_object(yaml.ScalarNode(tag, event.value))
    except (ValueError, yaml.YAMLError) as exc:
        raise DocumentError(f"cannot read {event.value!r} as {tag}: {exc}", *_mark(event)) from None


def _yaml_positions(text: str, limits: ReadLimits) -> dict[PathKey, tuple[int, int]]:
    return _parse_yaml(text, limits, want_positions=True)[1]


def _parse_yaml(  # noqa: PLR0912, PLR0915 - one event loop reads clearer than a split state machine
    text: str, limits: ReadLimits, *, want_positions: bool
) -> tuple[Any, dict[PathKey, tuple[int, int]]]:
    positions: dict[PathKey, tuple[int, int]] = {}
    anchors: dict[str, tuple[Any, int]] = {}
    stack: list[_Frame] = []
    result: Any = None
    documents = 0
    total = 0

    def over_nodes(mark: tuple[int, int]) -> DocumentError:
        return DocumentError(
            f"document expands to more than {limits.max_nodes:,} values (YAML aliases or "
            "sheer size; settings catalog.max_nodes)",
            *mark,
        )

    def attach(value: Any, size: int, mark: tuple[int, int]) -> None:
        nonlocal result
        if not stack:
            result = value
            positions[()] = mark
            return
        top = stack[-1]
        top.size += size
        if isinstance(top.container, list):
            path = (*top.path, len(top.container))
            top.container.append(value)
            if want_positions:
                positions.setdefault(path, mark)
            return
        if top.expect_key:
            raise AssertionError("unreachable: keys are handled before attach")
        key = top.key
        assert key is not None
        top.expect_key = True
        if top.merge_pending:
            top.merge_pending = False
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(s, dict) for s in sources):
                raise DocumentError("merge key '<<' needs a mapping or a list of mappings", *mark)
            top.merges.extend(sources)
            return
        top.container[key] = value
        if want_positions:
            # A mapping member is located at its key, where users look for it.
            positions[(*top.path, key)] = top.key_mark or mark

    for event in _events(text):
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise DocumentError(
                    "more than one YAML document ('---'); an experiment file holds exactly one",
                    *_mark(event),
                )
            continue
        if isinstance(event, yaml.StreamStartEvent | yaml.StreamEndEvent | yaml.DocumentEndEvent):
            continue

        top = stack[-1] if stack else None
        mark = _mark(event)

        # A mapping key position: keys must be scalars and are taken as their text.
        if (
            top is not None
            and isinstance(top.container, dict)
            and top.expect_key
            and not isinstance(event, yaml.MappingEndEvent)
        ):
            if not isinstance(event, yaml.ScalarEvent):
                raise DocumentError("mapping keys must be plain strings, not collections", *mark)
            key = event.value
            is_merge = key == "<<" and event.implicit[0] and event.tag in (None, "!", _MERGE_TAG)
            if not is_merge and key in top.key_lines:
                raise DocumentError(
                    f"duplicate key {key!r} (first defined on line {top.key_lines[key]})", *mark
                )
            top.key_lines.setdefault(key, mark[0])
            top.key = key
            top.key_mark = mark
            top.merge_pending = is_merge
            top.expect_key = False
            total += 1
            continue

        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                raise DocumentError(f"alias *{event.anchor} refers to no anchor", *mark)
            value, size = anchors[event.anchor]
            total += size
            if total > limits.max_nodes:
                raise over_nodes(mark)
            # A private copy: aliased data must not be shared mutable state downstream.
            attach(copy.deepcopy(value), size, mark)
            continue

        if isinstance(event, yaml.ScalarEvent):
            total += 1
            if total > limits.max_nodes:
                raise over_nodes(mark)
            value = _construct_scalar(event)
            if event.anchor:
                anchors[event.anchor] = (value, 1)
            attach(value, 1, mark)
            continue

        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            total += 1
            if total > limits.max_nodes:
                raise over_nodes(mark)
            if len(stack) >= limits.max_depth:
                raise DocumentError(
                    f"nested deeper than {limits.max_depth} levels (settings catalog.max_depth)",
                    *mark,
                )
            tag = event.tag
            if tag not in (None, "!") and tag not in _COLLECTION_TAGS and not tag.startswith("!!"):
                raise DocumentError(f"YAML tag {_short_tag(tag)!r} is not allowed", *mark)
            if top is None:
                path: PathKey = ()
            elif isinstance(top.container, list):
                path = (*top.path, len(top.container))
            else:
                assert top.key is not None
                path = (*top.path, top.key)
            container: dict[str, Any] | list[Any] = (
                {} if isinstance(event, yaml.MappingStartEvent) else []
            )
            stack.append(_Frame(container, path, event.anchor, mark))
            continue

        if isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            frame = stack.pop()
            if isinstance(frame.container, dict):
                for source in frame.merges:
                    for key, value in source.items():
                        frame.container.setdefault(key, copy.deepcopy(value))
            if frame.anchor:
                anchors[frame.anchor] = (frame.container, frame.size)
            if want_positions:
                positions.setdefault(frame.path, frame.mark)
            attach(frame.container, frame.size, frame.mark)
            continue

    return result, positions


def describe_path(path: PathKey) -> str:
    """`method[0].provider.func` style, as users read it in their file."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def walk_data_path(data: Any, loc: tuple[Any, ...]) -> PathKey:
    """Map a pydantic error location onto the real data path.

    Pydantic inserts union tags and model names into locations; those do not exist in the
    data, so they are dropped, while a final missing key is kept (it names the field).
    """
    out: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, Mapping) and isinstance(part, str):
            if part in node:
                out.append(part)
                node = node[part]
                continue
            if last:
                out.append(part)
            continue
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
            continue
        if last and isinstance(part, str | int):
            out.append(part)
    return tuple(out)
