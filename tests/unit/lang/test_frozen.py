"""The read-only containers of the spec tree."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from sirocco.lang.frozen import FrozenDict, FrozenList, freeze, thaw


def test_freeze_makes_nested_read_only_dicts_and_lists() -> None:
    frozen = freeze({"a": [1, {"b": 2}]})
    assert isinstance(frozen, FrozenDict) and isinstance(frozen["a"], FrozenList)
    assert isinstance(frozen["a"][1], FrozenDict)
    assert frozen == {"a": [1, {"b": 2}]}
    assert json.dumps(frozen) == '{"a": [1, {"b": 2}]}'
    assert repr(frozen) == "{'a': [1, {'b': 2}]}"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.__setitem__("x", 1),
        lambda d: d.update(x=1),
        lambda d: d.pop("a"),
        lambda d: d.setdefault("x", 1),
        lambda d: d.clear(),
        lambda d: d["a"].append(3),
        lambda d: d["a"].extend([3]),
        lambda d: d["a"].__setitem__(0, 3),
        lambda d: d["a"].sort(),
    ],
)
def test_every_change_is_refused(change: object) -> None:
    frozen = freeze({"a": [2, 1]})
    with pytest.raises(TypeError):
        change(frozen)  # type: ignore[operator]
    assert frozen == {"a": [2, 1]}


def test_copies_are_plain_and_changeable() -> None:
    frozen = freeze({"a": [1]})
    deep = copy.deepcopy(frozen)
    assert type(deep) is dict and type(deep["a"]) is list
    deep["a"].append(2)
    shallow = copy.copy(frozen)
    shallow["b"] = 1
    assert thaw(frozen) == {"a": [1]} and type(thaw(frozen)) is dict
    assert frozen == {"a": [1]}


def test_pickling_keeps_them_frozen() -> None:
    again = pickle.loads(pickle.dumps(freeze({"a": [1]})))
    assert isinstance(again, FrozenDict) and isinstance(again["a"], FrozenList)
    assert again == {"a": [1]}
