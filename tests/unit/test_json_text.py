"""sirocco.store.json_text writes what json.dumps writes, and a long text's encoding once."""

from __future__ import annotations

import json
from collections import ChainMap
from datetime import datetime
from typing import Any
from unittest import mock

import pytest

from sirocco.store import json_text


def _reference(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=json_default_plain)


def json_default_plain(value: Any) -> Any:
    if isinstance(value, ChainMap):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    raise TypeError(value)


LONG = 'é"x\n' * 400  # non-ASCII and escapes, past LONG_TEXT

CASES: list[Any] = [
    None,
    1.5,
    float("nan"),
    "short",
    LONG,
    {},
    [LONG, {"a": LONG}],
    {"output": LONG},
    {"a": 1, "b": LONG, "c": {"d": LONG, "e": [1, 2]}, "f": None, "g": LONG},
    {1: LONG, "b": 2},  # a key JSON writes as text: left to json.dumps
    {True: LONG, None: 3.0},
    {"when": datetime(2026, 12, 7, 15, 0), "text": LONG, "chain": ChainMap({"x": 1})},
    {"tuple": (1, 2), "text": LONG},
]


@pytest.mark.parametrize("value", CASES, ids=range(len(CASES)))
def test_the_text_is_what_json_dumps_writes(value: Any) -> None:
    assert json_text.dumps(value) == _reference(value)
    assert json_text.dumps(value) == _reference(value)  # the second time from the table


def test_a_long_text_is_encoded_once_however_many_fields_hold_it() -> None:
    text = "y" * 10240
    calls = []
    real = json_text._encode

    def counting(value: Any) -> str:
        calls.append(value)
        return real(value)

    with mock.patch.object(json_text, "_encode", counting):
        texts = [json_text.dumps(text), json_text.dumps({"output": text}), json_text.dumps(text)]
    assert texts == [_reference(text), _reference({"output": text}), _reference(text)]
    assert sum(1 for value in calls if value is text) == 1


def test_an_equal_text_that_is_another_object_is_encoded_on_its_own() -> None:
    first = "z" * 5000
    second = "".join(["z"] * 5000)
    assert first == second and first is not second
    assert json_text.dumps(first) == json_text.dumps(second) == _reference(first)


def test_the_table_forgets_the_oldest_texts_beyond_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(json_text, "KEPT_CHARACTERS", 3 * 2000)
    monkeypatch.setattr(json_text, "_kept", {})
    monkeypatch.setattr(json_text, "_kept_characters", 0)
    texts = [str(index) * 2000 for index in range(5)]
    for text in texts:
        assert json_text.dumps(text) == _reference(text)
    kept = [entry[0] for entry in json_text._kept.values()]
    assert kept == texts[2:]
    assert json_text._kept_characters == 3 * 2000
    assert json_text.dumps("q" * 10_000) == _reference("q" * 10_000)  # too long to keep
    assert [entry[0] for entry in json_text._kept.values()] == texts[2:]


@pytest.fixture(autouse=True)
def _no_kept_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with an empty table of list texts (others' runs may leave some)."""
    monkeypatch.setattr(json_text, "_kept_lists", {})
    monkeypatch.setattr(json_text, "_kept_list_characters", 0)


def test_a_list_joined_from_kept_chunks_is_written_from_their_texts_once() -> None:
    chunks = [[0, "a"], [], [{"b": [1]}]]
    for chunk in chunks:
        json_text.keep_list(chunk, _reference(chunk))
    whole = [item for chunk in chunks for item in chunk]
    json_text.keep_joined(whole, chunks)
    expected = _reference(whole)
    with mock.patch.object(json_text, "_encode", side_effect=AssertionError("encoded")):
        assert json_text.dumps(whole) == expected
    # Written once: the text is forgotten, the list (it may change later) is encoded.
    assert json_text.dumps(whole) == _reference(whole)
    assert not json_text._kept_lists


def test_a_list_is_encoded_when_a_chunk_was_not_kept_or_is_another_list() -> None:
    kept, unkept = [1, 2], [3]
    json_text.keep_list(kept, "[1,2]")
    whole = [1, 2, 3]
    json_text.keep_joined(whole, [kept, unkept])
    assert not json_text._kept_lists  # the kept chunk is forgotten too
    copy = list(kept)
    json_text.keep_list(kept, "[1,2]")
    with mock.patch.object(json_text, "_encode", return_value="encoded"):
        assert json_text.dumps(whole) == "encoded"
        assert json_text.dumps(copy) == "encoded"  # equal, not the same list
    assert json_text.dumps(kept) == "[1,2]"


def test_kept_lists_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_text, "KEPT_LIST_CHARACTERS", 10)
    first, second = [1, 2, 3], [4, 5, 6]
    json_text.keep_list(first, "[1,2,3]")
    json_text.keep_list(second, "[4,5,6]")
    assert list(json_text._kept_lists) == [id(second)]
    assert json_text._kept_list_characters == 7
    json_text.dumps(second)
    assert json_text._kept_list_characters == 0
