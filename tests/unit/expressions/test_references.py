"""Values stored by reference: expressions see the value, and load it only when they read it."""

from __future__ import annotations

import json
import sys
from collections import ChainMap
from typing import Any

import pytest

from sirocco import errors, references
from sirocco.engine import dataflow, sizes
from sirocco.expressions import evaluate
from sirocco.limits import Limits

BIG = {"rows": list(range(50)), "name": "big"}


class CountingLoader:
    """A loader over a dict of digests, counting its loads."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.loads: list[str] = []

    def __call__(self, digest: str) -> Any:
        self.loads.append(digest)
        if digest not in self.values:
            raise references.BlobMissingError(digest)
        return self.values[digest]


def _data() -> tuple[ChainMap[str, Any], CountingLoader]:
    loader = CountingLoader({"d-big": BIG, "d-text": "t" * 100})
    data: ChainMap[str, Any] = ChainMap(
        {"big": references.Blob("d-big", 300, references.OBJECT, loader), "small": 1},
        {"text": references.Blob("d-text", 102, references.OTHER, loader)},
    )
    return data, loader


def test_an_expression_that_does_not_read_a_blob_does_not_load_it() -> None:
    data, loader = _data()
    assert evaluate("<% $.small + 1 %>", data) == 2
    assert evaluate("{{ _.small + 1 }}", data) == 2
    assert evaluate({"a": "<% $.small %>", "b": "{{ _.small }}"}, data) == {"a": 1, "b": 1}
    assert loader.loads == []


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("<% $.big %>", BIG),
        ("<% $.big.name %>", "big"),
        ("<% len($.big.rows) %>", 50),
        ("<% $.big.rows.where($ > 47) %>", [48, 49]),
        ("<% len($.text) %>", 100),
        ("<% $.text.substring(0, 2) %>", "tt"),
        ("{{ _.big }}", BIG),
        ("{{ _.big.name }}", "big"),
        ("{{ _['big']['rows'] | length }}", 50),
        ("{{ _.text | length }}", 100),
        ("size <% len($.text) %>", "size 100"),
        ("name {{ _.big.name }}", "name big"),
    ],
)
def test_an_expression_sees_the_value(expression: str, expected: Any) -> None:
    data, loader = _data()
    assert evaluate(expression, data) == expected
    assert loader.loads, "the value was read, so it was loaded"


def test_a_value_read_whole_comes_out_as_the_value_not_a_reference() -> None:
    data, _ = _data()
    result = evaluate("<% $.big %>", data)
    assert type(result) is dict and result == BIG
    assert result is not BIG  # a fresh copy, as for any value an expression returns


def test_json_functions_write_the_value() -> None:
    data, _ = _data()
    assert evaluate("<% json_dump($.big.rows.take(2)) %>", data) == "[\n    0,\n    1\n]"
    assert '"name": "big"' in evaluate("<% json_pp() %>", {"x": data["big"]})


def test_a_missing_blob_fails_the_expression_not_the_engine() -> None:
    loader = CountingLoader({})
    data = {"gone": references.Blob("d-gone", 10, references.OTHER, loader)}
    with pytest.raises(errors.ExpressionEvaluationError, match="d-gone"):
        evaluate("<% len($.gone) %>", data)


def test_blobs_are_equal_by_digest_and_print_as_their_value() -> None:
    data, loader = _data()
    same = references.Blob("d-big", 300, references.OBJECT, loader)
    assert data["big"] == same and hash(data["big"]) == hash(same)
    assert loader.loads == []
    assert data["big"] == BIG
    assert str(data["text"]) == "t" * 100
    assert repr(data["big"]) == repr(BIG)


def test_a_reference_round_trips_through_its_stored_form() -> None:
    blob = references.Blob("abc", 12, references.OTHER, CountingLoader({}))
    stored = blob.reference()
    assert references.is_reference(stored)
    assert stored == {references.REF_KEY: "abc", "bytes": 12, "kind": "other"}
    assert not references.is_reference({references.REF_KEY: "abc"})
    assert not references.is_reference({"bytes": 12, "kind": "other", "x": 1})


def test_the_field_size_limit_measures_the_value_a_blob_stands_for() -> None:
    loader = CountingLoader({"d": "z" * 4096})
    blob = references.Blob("d", 4098, references.OTHER, loader)
    with pytest.raises(errors.SizeLimitError, match="size=4KB, limit=2KB"):
        sizes.check(Limits(field_size_limit_kb=2), "TaskExecution", "published", {"v": blob})
    sizes.check(Limits(field_size_limit_kb=8), "TaskExecution", "published", {"v": blob})


def test_a_blob_surely_under_the_field_size_limit_is_not_loaded_to_measure_it() -> None:
    loader = CountingLoader({"d": "z" * 4096, "e": ["é" * 100] * 100})
    text = references.Blob("d", 4098, references.OTHER, loader)
    # 8 x 4,098 + 80 < 64 KiB: known to be under without the value.
    sizes.check(Limits(field_size_limit_kb=64), "ActionExecution", "output", text)
    assert loader.loads == []
    # Near the limit, the value is loaded and measured as Mistral measures it.
    sizes.check(Limits(field_size_limit_kb=8), "ActionExecution", "output", text)
    assert loader.loads == ["d"]
    with pytest.raises(errors.SizeLimitError, match="size=4KB, limit=2KB"):
        sizes.check(Limits(field_size_limit_kb=2), "ActionExecution", "output", text)
    # The bound holds for a value whose Python text is larger than its JSON text.
    value = loader.values["e"]
    size = len(json.dumps(value, separators=(",", ":")))
    assert sys.getsizeof(str(value)) < sizes._BLOB_BOUND * size + 80


def test_an_object_blob_is_versioned_and_merged_key_by_key() -> None:
    loader = CountingLoader({"d": {"a": 1, "b": {"c": 2}}})
    blob = references.Blob("d", 30, references.OBJECT, loader)
    assert sorted(dataflow.leaf_paths({"v": blob})) == ["v.a", "v.b.c"]
    text = references.Blob("t", 30, references.OTHER, loader)
    assert list(dataflow.leaf_paths({"v": text})) == ["v"]
    assert loader.loads == ["d"]
