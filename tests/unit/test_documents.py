"""The bounded reader: every kind of bad input is a located DocumentError, never a crash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.documents import (
    DocumentError,
    ReadLimits,
    describe_path,
    parse_text,
    read_document,
    walk_data_path,
)

LIMITS = ReadLimits()


def error_of(text: str, fmt: str = "yaml", limits: ReadLimits = LIMITS) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        parse_text(text, fmt, limits)  # type: ignore[arg-type]
    return caught.value


def test_yaml_values_follow_safe_loader_semantics() -> None:
    doc = parse_text("a: 1\nb: yes\nc: 2026-01-02\nd: '3'\ne: ~\nf: 1.5\n", "yaml", LIMITS)
    assert doc.data["a"] == 1
    assert doc.data["b"] is True
    assert str(doc.data["c"]) == "2026-01-02"
    assert doc.data["d"] == "3"
    assert doc.data["e"] is None
    assert doc.data["f"] == 1.5


def test_positions_point_at_keys_and_items() -> None:
    doc = parse_text("a:\n  b:\n    - x\n    - {c: 1}\n", "yaml", LIMITS)
    assert doc.locate(("a", "b")) == (2, 3)
    assert doc.locate(("a", "b", 1, "c")) == (4, 8)
    # A missing key falls back to its nearest located ancestor.
    assert doc.locate(("a", "b", 1, "missing")) == (4, 7)


def test_json_positions_are_found_lazily() -> None:
    doc = parse_text('{\n  "x": {\n    "y": [1, {"z": 2}]\n  }\n}', "json", LIMITS)
    assert doc.data == {"x": {"y": [1, {"z": 2}]}}
    assert doc.locate(("x", "y", 1, "z")) == (3, 15)


def test_merge_keys_are_supported_and_explicit_keys_win() -> None:
    doc = parse_text("base: &b {p: 1, q: 2}\nm:\n  <<: *b\n  q: 3\n", "yaml", LIMITS)
    assert doc.data["m"] == {"p": 1, "q": 3}


def test_aliases_are_private_copies() -> None:
    doc = parse_text("a: &x {k: [1]}\nb: *x\n", "yaml", LIMITS)
    doc.data["a"]["k"].append(2)
    assert doc.data["b"] == {"k": [1]}


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        ("a: [1, 2\n", "invalid YAML", 2),
        ("a: b: c\n", "invalid YAML", 1),
        ("a: 1\na: 2\n", "duplicate key 'a' (first defined on line 1)", 2),
        ("---\na: 1\n---\nb: 2\n", "more than one YAML document", 3),
        ("a: !!python/object:os.system x\n", "'!!python/object:os.system' is not allowed", 1),
        ("a: !custom x\n", "is not allowed", 1),
        ("? [a]\n: 1\n", "mapping keys must be plain strings", 1),
        ("a: *nope\n", "alias *nope refers to no anchor", 1),
        ("a: !!int xyz\n", "cannot read 'xyz'", 1),
    ],
)
def test_malformed_yaml_is_located(text: str, fragment: str, line: int) -> None:
    exc = error_of(text)
    assert fragment in exc.message
    assert exc.line == line


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        ('{"a": 1,}', "invalid JSON", 1),
        ('{\n"a": 1,\n"a": 2}', "duplicate key 'a'", 3),
        ('{"a": NaN}', "NaN is not valid JSON", None),
        ("[1, 2", "invalid JSON", 1),
    ],
)
def test_malformed_json_is_located(text: str, fragment: str, line: int | None) -> None:
    exc = error_of(text, "json")
    assert fragment in exc.message
    assert exc.line == line


def test_alias_bomb_is_refused_at_the_expansion_limit() -> None:
    rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    exc = error_of("\n".join(rows) + "\n")
    assert "expands to more than 100,000 values" in exc.message
    assert exc.line is not None


def test_many_plain_values_also_hit_the_node_limit() -> None:
    exc = error_of("[" + ",".join(["1"] * 200) + "]", limits=ReadLimits(max_nodes=100))
    assert "more than 100 values" in exc.message


DEPTH_MESSAGE = "nested deeper than 64 levels (settings catalog.max_depth)"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("depth", [65, 999, 1_000, 1_001, 5_000, 1_000_000])
@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ('{"k":', "}"), ('[{"k":', "}]")])
def test_deep_flow_nesting_is_refused_by_our_limit_first(
    fmt: str, depth: int, opener: str, closer: str
) -> None:
    """Our limit and message, whatever depth: libyaml (PyYAML >= 6.0.4 stops at 1,000 levels)
    and json's recursion limit must never be the ones answering."""
    exc = error_of(opener * depth + "1" + closer * depth, fmt)
    assert exc.message == DEPTH_MESSAGE
    assert exc.line == 1
    assert exc.column is not None
    assert exc.column <= 65 * len(opener)


def test_deep_nesting_is_located_on_its_line() -> None:
    exc = error_of("title: t\nmethod: " + "[" * 2_000 + "]" * 2_000 + "\n")
    assert (exc.message, exc.line, exc.column) == (DEPTH_MESSAGE, 2, 9 + 64)


@given(
    depth=st.integers(min_value=1, max_value=300),
    kinds=st.lists(st.sampled_from(["[", "{k: "]), min_size=1, max_size=4),
    fmt=st.sampled_from(["yaml", "json"]),
)
@settings(max_examples=150, deadline=None, derandomize=True)
def test_nesting_is_refused_exactly_past_the_limit(depth: int, kinds: list[str], fmt: str) -> None:
    openers = [kinds[i % len(kinds)] for i in range(depth)]
    if fmt == "json":
        openers = ['{"k":' if o.startswith("{") else o for o in openers]
    text = "".join(openers) + "1" + "".join("]" if o == "[" else "}" for o in reversed(openers))
    if depth > 64:
        assert error_of(text, fmt).message == DEPTH_MESSAGE
    else:
        assert parse_text(text, fmt, LIMITS).data is not None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "a: '" + "[" * 5_000 + "'\n",  # inside quotes
        'a: "' + "{" * 5_000 + '\\" ["\n',  # escaped quote inside a double-quoted scalar
        "a: 1 # " + "[" * 5_000 + "\n",  # a comment
        "a: x" + "[" * 5_000 + "\n",  # a plain scalar in block context
        "a: 'it''s " + "[" * 5_000 + "'\n",  # '' inside single quotes
        "a: don't " + "[" * 5_000 + "\n",  # a quote inside a plain scalar
        "a: b [" + "[" * 5_000 + "\n",  # brackets after a blank, still a plain scalar
    ],
)
def test_brackets_that_are_not_nesting_do_not_count(text: str) -> None:
    assert parse_text(text, "yaml", LIMITS).data["a"]


def test_deep_block_nesting_is_refused() -> None:
    text = "".join(f"{'  ' * i}k{i}:\n" for i in range(80)) + "  " * 80 + "v\n"
    assert "nested deeper" in error_of(text).message


@pytest.mark.parametrize("depth", [65, 500, 100_000])
def test_deep_json_nesting_is_refused(depth: int) -> None:
    exc = error_of("[" * depth + "]" * depth, "json")
    assert "nested deeper" in exc.message


def test_nesting_at_the_limit_is_fine() -> None:
    doc = parse_text("[" * 64 + "]" * 64, "yaml", LIMITS)
    assert isinstance(doc.data, list)


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n", "---\n...\n", "~\n"])
def test_empty_documents(text: str) -> None:
    message = error_of(text).message
    assert "empty" in message or "no content" in message


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:  # 20 MB, sparse: cheap to create
        handle.truncate(20 * 1024 * 1024)
    with pytest.raises(DocumentError, match=r"20,971,520 bytes, over the limit of 1,048,576"):
        read_document(path, LIMITS)


def test_binary_content(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"title: a\n\x00\x01\x02")
    with pytest.raises(DocumentError, match="binary content") as caught:
        read_document(path, LIMITS)
    assert caught.value.line == 2


def test_non_utf8_content_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"title: caf" + b"\xe9\n")
    with pytest.raises(DocumentError, match=r"not valid UTF-8 \(byte 0xe9 at offset 10\)") as c:
        read_document(path, LIMITS)
    assert (c.value.line, c.value.column) == (1, 11)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'\xef\xbb\xbf{"title": "t"}')
    assert read_document(path, LIMITS).data == {"title": "t"}


def test_symlink_loop(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(DocumentError, match="symbolic link loop"):
        read_document(a, LIMITS)


def test_dangling_symlink_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    with pytest.raises(DocumentError, match="does not exist"):
        read_document(tmp_path / "dangling.yaml", LIMITS)


def test_fifo_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    # Opening a FIFO without a writer would block forever; the reader must refuse first.
    with pytest.raises(DocumentError, match="not a regular file"):
        read_document(fifo, LIMITS)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="is a directory"):
        read_document(tmp_path, LIMITS)


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files regardless of mode bits")
    path = tmp_path / "secret.yaml"
    path.write_text("a: 1\n")
    path.chmod(0)
    with pytest.raises(DocumentError, match="permission denied"):
        read_document(path, LIMITS)


def test_walk_data_path_drops_pydantic_tags_and_keeps_missing_keys() -> None:
    data = {"method": [{"provider": {"type": "http"}}]}
    loc = ("method", 0, "def", "provider", "http", "url")
    assert walk_data_path(data, loc) == ("method", 0, "provider", "url")
    assert describe_path(("method", 0, "provider", "url")) == "method[0].provider.url"
    assert describe_path(()) == "(document)"
