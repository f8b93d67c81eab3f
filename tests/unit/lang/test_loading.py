"""YAML read as Mistral reads it, with the line of every value."""

from __future__ import annotations

import pytest

from sirocco.lang import loading


def test_anchors_aliases_and_at_signs_are_plain_text() -> None:
    document = loading.load("a: &x hello\nb: *x\nc: @home\nd: [*y, &z w]\n")
    assert document.data == {"a": "&x hello", "b": "*x", "c": "@home", "d": ["*y", "&z w"]}


def test_text_without_anchors_reads_the_same_on_both_parsers() -> None:
    text = "a: 1\nb: [1, 2.5, true, null, 'x']\nc: {d: e}\nf: |\n  block\n  text\n"
    fast = loading.load(text)
    slow = loading.load(text + "g: *alias\n")  # an alias sends the text to the Python reader
    assert slow.data == {**fast.data, "g": "*alias"}
    assert fast.data == {
        "a": 1,
        "b": [1, 2.5, True, None, "x"],
        "c": {"d": "e"},
        "f": "block\ntext\n",
    }
    assert slow.lines == {**fast.lines, ("g",): 7}


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", "~\n", "false\n", "[]\n"])
def test_an_empty_or_false_document_is_an_empty_mapping(text: str) -> None:
    assert loading.load(text).data == {}


def test_lines_of_keys_and_items() -> None:
    document = loading.load("a:\n  b: 1\n  c:\n    - x\n    - {y: 2}\nd: 3\n")
    assert document.lines == {
        (): 1,
        ("a",): 1,
        ("a", "b"): 2,
        ("a", "c"): 3,
        ("a", "c", 0): 4,
        ("a", "c", 1): 5,
        ("a", "c", 1, "y"): 5,
        ("d",): 6,
    }
    assert document.line(("a", "c", 1, "y", "deeper")) == 5
    assert document.line(("missing",)) == 1


def test_duplicate_keys_keep_the_last_value_and_are_recorded() -> None:
    document = loading.load("a: 1\nb: 2\na: 3\n")
    assert document.data == {"a": 3, "b": 2}
    assert document.duplicates == (loading.Duplicate(path=(), key="a", line=3, first_line=1),)


def test_dates_stay_text() -> None:
    assert loading.load("d: 2020-01-01\nt: 2020-01-01 10:00:00\n").data == {
        "d": "2020-01-01",
        "t": "2020-01-01 10:00:00",
    }


def test_explicit_standard_tags() -> None:
    document = loading.load("a: !!str 12\nb: !!int '7'\nc: !!float '1.5'\nd: ! 3\n")
    assert document.data == {"a": "12", "b": 7, "c": 1.5, "d": 3}


def test_merge_keys_with_an_inline_mapping() -> None:
    assert loading.load("a:\n  <<: {x: 1, y: 2}\n  y: 3\n").data == {"a": {"x": 1, "y": 3}}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "a: [1, 2\n",
            2,
            "while parsing a flow sequence: expected ',' or ']', but got '<stream end>' "
            "(started at line 1)",
        ),
        ("a: 1\n b: 2\n", 2, "mapping values are not allowed here"),
        ("a: !custom x\n", 1, "could not determine a constructor for the tag '!custom'"),
        (
            "a: !!binary aGVsbG8=\n",
            1,
            "could not determine a constructor for the tag 'tag:yaml.org,2002:binary'",
        ),
        ("a: !!int x\n", 1, "cannot read 'x' as int"),
        (
            "---\na: 1\n---\nb: 2\n",
            3,
            "expected a single document in the stream, but found another document",
        ),
        ("? [a]\n: 1\n", 1, "a mapping key must be a plain value, not a list or a mapping"),
        ("a: \x07\n", 1, "unacceptable character #x0007: special characters are not allowed"),
        ("a:\n  <<: *base\n", 2, "expected a mapping or list of mappings for merging ('<<')"),
    ],
)
def test_errors_have_a_line_and_a_message(text: str, line: int, message: str) -> None:
    with pytest.raises(loading.LoadError) as caught:
        loading.load(text)
    assert (caught.value.line, caught.value.message) == (line, message)


@pytest.mark.parametrize("text", ["[" * 100_000, "- " * 100_000 + "x", "{a: " * 5000])
def test_deep_nesting_is_refused_without_crashing(text: str) -> None:
    with pytest.raises(loading.LoadError) as caught:
        loading.load(text)
    assert caught.value.message == "the definition is nested more than 250 levels deep"


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = loading.MAX_DEPTH
    data = loading.load("[" * depth + "]" * depth).data
    for _ in range(depth - 1):
        data = data[0]
    assert data == []
