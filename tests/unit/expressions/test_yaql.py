"""YAQL: Mistral's engine options, the standard library, and the direct evaluation of common forms.

Every expected value below is what Mistral 23 returned for the same
expression and data.
"""

from __future__ import annotations

from collections import ChainMap
from typing import Any

import pytest

from sirocco import errors
from sirocco.expressions import evaluate, yaql_evaluator

DATA: dict[str, Any] = {
    "x": 1,
    "y": 2.5,
    "s": "hi",
    "t": True,
    "n": None,
    "z": 0,
    "e": [],
    "big": 10,
    "st": "SUCCESS",
    "d": {"a": 1, "b": [1, "x\ny"]},
    "l": [1, 2, {"b": [3]}],
    "nums": [3, 1, 2],
    "servers": [{"name": "a", "on": True}, {"name": "b", "on": False}],
    "__env": {"e": 5},
    "__execution": {"id": "E1"},
}

LAYERED = ChainMap({"x": 1, "y": 2.5}, {key: value for key, value in DATA.items() if key != "x"})


@pytest.fixture(params=["dict", "chain"])
def data(request: pytest.FixtureRequest) -> Any:
    return DATA if request.param == "dict" else LAYERED


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # operators, computed directly for numbers and strings
        ("$.x + 1", 2),
        ("$.x + $.y", 3.5),
        ("$.y * 2", 5.0),
        ("$.x - 3", -2),
        ("$.s + '!'", "hi!"),
        ("$.x > 0", True),
        ("$.x >= 1", True),
        ("$.x < 1", False),
        ("$.x <= 0", False),
        ("$.s > 'a'", True),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("$.x + 0.5", 1.5),
        # operators YAQL resolves for other types
        ("$.n > 1", False),
        ("$.n < 1", True),
        ("$.big / 3", 3),
        ("$.big mod 3", 1),
        ("-$.x", -1),
        ("$.s * 2", "hihi"),
        ("$.l + [4]", [1, 2, {"b": [3]}, 4]),
        ("$.d + {c => 1}", {"a": 1, "b": [1, "x\ny"], "c": 1}),
        # equality and logic
        ("$.x = 1", True),
        ("$.x != 1", False),
        ("$.x = 1.0", True),
        ("$.st = SUCCESS", True),
        ("$.st != ERROR", True),
        ("$.n = null", True),
        ("$.d = $.d", True),
        ("$.l = [1, 2, {b => [3]}]", True),
        ("$.e = []", True),
        ("$.d = {a => 1, b => [1, $.d.b[1]]}", True),
        ("$.x and $.n", None),
        ("$.n or $.s", "hi"),
        ("$.z or $.e", []),
        ("$.e and $.x", []),
        ("not $.n", True),
        ("not $.x", False),
        ("$.x > 0 and $.y < 5", True),
        ("$.z > 0 and $.missing", False),
        ("$.x > 0 or $.missing", True),
        ("$.t and not $.n", True),
        # queries and the standard library
        ("$.servers.where($.on).select($.name)", ["a"]),
        ("$.servers.name", ["a", "b"]),
        ("$.servers[0].name", "a"),
        ("$.servers.where($.name = a).first().on", True),
        ("$.servers.toDict($.name, $.on)", {"a": True, "b": False}),
        ("$.servers.any($.on)", True),
        ("$.servers.all($.on)", False),
        ("$.nums.orderBy($)", [1, 2, 3]),
        ("$.nums.orderBy(-$)", [3, 2, 1]),
        ("$.nums.sum()", 6),
        ("$.nums.max()", 3),
        ("len($.nums)", 3),
        ("$.nums.len()", 3),
        ("3 in $.nums", True),
        ("$.st in list(SUCCESS, ERROR)", True),
        ("$.l[2].b[0]", 3),
        ("$.l.distinct()", [1, 2, {"b": [3]}]),
        ("$.d.get(a)", 1),
        ("$.d.set(c, 3)", {"a": 1, "b": [1, "x\ny"], "c": 3}),
        ("$.d.containsKey(a)", True),
        ("$.d.keys()", {"a", "b"}),
        ("dict(a => 1)", {"a": 1}),
        ("[$.x, $.y]", [1, 2.5]),
        ("{a => $.x}", {"a": 1}),
        ("set($.x, $.x)", {1}),
        ("range(3)", [0, 1, 2]),
        ("range(5, 0, -2)", [5, 3, 1]),
        ("let(v => $.x) -> $v + 1", 2),
        ("switch($.x > 0 => a, true => b)", "a"),
        ("$.s.toUpper()", "HI"),
        ("$.s.len()", 2),
        ("regex('h(.)').search($.s)", "hi"),
        ("int('5') + $.x", 6),
        ("str($.x) + 'a'", "1a"),
        ("coalesce($.n, $.x)", 1),
        ("$.servers.name.join(',')", "a,b"),
        # YAQL's own repr of frozen data, as Mistral shows it
        ("str($.d)", "{'a': 1, 'b': (1, 'x\\ny')}"),
        ("str($.l)", "(1, 2, {'b': (3,)})"),
        # a bare word is a string; Mistral's context variables
        ("abc", "abc"),
        ("$__env", {"e": 5}),
        ("$__execution.id", "E1"),
        ("$['__execution'].id", "E1"),
        ("$__task_execution", None),
    ],
)
def test_yaql_results_match_mistral(data: Any, expression: str, expected: Any) -> None:
    result = evaluate(f"<% {expression} %>", data)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("$.s < $.x", 'No function "#operator_<" matches supplied arguments'),
        ("true + 1", 'No function "#operator_+" matches supplied arguments'),
        ("$.x > 0 and $.missing", "'missing'"),
        ("$.l.toSet()", "unhashable type: 'dict'"),
        ("$.__execution.id", "Lexical error: illegal character '_' at position 2"),
        ("dict($.d)", 'No function "dict" matches supplied arguments'),
        ("$.x.abc", 'Unknown function "#property#abc"'),
    ],
)
def test_yaql_failures_match_mistral(data: Any, expression: str, error: str) -> None:
    with pytest.raises(errors.ExpressionEvaluationError) as raised:
        evaluate(f"<% {expression} %>", data)
    assert raised.value.message == (
        f"Can not evaluate YAQL expression [expression={expression}, error={error}]"
    )


def test_the_data_root_is_read_lazily_not_converted_whole() -> None:
    class Counting(dict[str, Any]):
        reads = 0

        def __getitem__(self, key: str) -> Any:
            Counting.reads += 1
            return super().__getitem__(key)

    big = ChainMap({"x": 1}, Counting({f"k{index}": {"v": index} for index in range(5000)}))
    assert evaluate("<% $.x + $.k7.v %>", big) == 8
    assert evaluate("<% $.k9.v > 3 and $.x = 1 %>", big) is True
    assert Counting.reads == 2


def test_each_expression_is_parsed_once() -> None:
    expression = "$.x * 7 + 1"
    before = yaql_evaluator._compile.cache_info()
    for _ in range(5):
        assert evaluate(f"<% {expression} %>", {"x": 2}) == 15
    after = yaql_evaluator._compile.cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 4


def test_expressions_inside_lambdas_see_their_own_dollar() -> None:
    data = {"items": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], "a": 100}
    assert evaluate("<% $.items.where($.a > 1).select($.b) %>", data) == ["y"]
    assert evaluate("<% $.items.select($.a + 1) %>", data) == [2, 3]
    assert evaluate("<% $.items.select($.a = 2 and $.b = y) %>", data) == [False, True]


def _results() -> list[Any]:
    return [
        [1, "a", None, True, 2.5],
        (1, (2, 3), {"k": (4,)}, {5}, frozenset({6})),
        range(5),
        iter([1, [2], {"a": (3,)}]),
        (value for value in ("x", ("y",))),
        {"a": (1, 2)},
        {1, 2},
        [],
        (),
    ]


@pytest.mark.parametrize("index", range(len(_results())))
def test_the_output_conversion_is_yaqls_own(index: int) -> None:
    from yaql.language import utils as yaql_utils

    ours = yaql_evaluator._finalize(_results()[index])
    theirs = yaql_utils.convert_output_data(
        _results()[index], yaql_evaluator._limited, yaql_evaluator._ENGINE
    )
    assert ours == theirs
    assert type(ours) is type(theirs)


def test_a_long_range_comes_out_as_a_list_of_its_numbers() -> None:
    result = evaluate("<% range($.n) %>", {"n": 100_000}, None)
    assert type(result) is list and result == list(range(100_000))
