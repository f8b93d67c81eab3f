"""The directly evaluated YAQL forms give YAQL's own results and errors.

Each expression is evaluated twice: by Sirocco (lazy data root, rewritten
expression) and by plain YAQL the way Mistral runs it (the whole data
converted with ``convert_input_data``, the parsed expression untouched).
"""

from __future__ import annotations

import itertools
from collections import ChainMap
from typing import Any

import pytest
from yaql.language import utils as yaql_utils

from sirocco import errors
from sirocco.expressions import evaluate, yaql_evaluator
from tests.unit.expressions.fakes import FakeFunctions

DATA: dict[str, Any] = {
    "i": 3,
    "f": 1.5,
    "b": True,
    "s": "text",
    "n": None,
    "l": [1, 2, 3],
    "e": [],
    "d": {"k": 1, "inner": {"deep": "x"}},
    "rows": [{"k": 1, "v": "a"}, {"k": 2, "v": "b"}],
    "__env": {"mode": "fast"},
    "__execution": {"id": "E1"},
}

OPERANDS = ["$.i", "$.f", "$.b", "$.s", "$.n", "$.l", "$.e", "$.d", "2", "'t'", "null", "true"]
OPERATORS = ["+", "-", "*", "<", "<=", ">", ">=", "=", "!=", "and", "or"]

OTHER_EXPRESSIONS = [
    "$.d.k",
    "$.d.inner.deep",
    "$.d.missing",
    "$.d.inner.missing.more",
    "$.l.k",
    "$.rows.k",
    "$.rows.v.len()",
    "$.rows[1].v",
    "$.rows.where($.k > 1).v",
    "$.rows.select($.k * 2 + 1)",
    "$.rows.select($.k = 1 and $.v = a)",
    "$.n.k",
    "$.s.k",
    "$.i.k",
    "$.rows.first().k",
    "$.d.get(k)",
    "$.d.inner.get(deep)",
    "env().mode",
    "env().missing",
    "env()",
    "$__env.mode",
    "$__execution.id",
    "execution().id",
    "task(first).result",
    "task().name",
    "task()",
    # task(...) then key steps: read from the one field (the result of either outcome)
    "task().result",
    "task(null).published",
    "task('first').published.p",
    "task(first).published.missing",
    "task(first).published.p.deeper",
    "task(first).result.k",
    "task().result.k",
    "task().missing",
    "task(nosuch).result",
    "task(first, 2).result",
    "$.s.task().result",
    "tasks(null, true).len()",
    "tasks(E1, 1)",
    "tasks(E1, false, SUCCESS, false).name",
    "tasks(E1, false, SUCCESS, false, 5)",
    "global(g)",
    "global()",
    "json_dump($.l)",
    "json_dump()",
    "json_parse('[1]')",
    "yaml_dump($.d)",
    "uuid(1)",
    "$.l.json_dump()",
    "$.s.task()",
    "let(x => $.i) -> $x + 1",
    "let(x => $.d) -> $x.k",
    "[$.i, $.s][0] + 1",
    "{a => $.i}.a",
    "($.i + 1).abc",
    "$.i + 1 > 3 and $.s != text or $.n",
    "not $.b and $.i",
    "$.rows.select($.k).sum() = 3",
]

CASES = [
    f"{left} {op} {right}"
    for left, op, right in itertools.product(
        OPERANDS, OPERATORS, ["$.i", "$.s", "$.n", "$.l", "2.5"]
    )
]
CASES += OTHER_EXPRESSIONS


def mistral_way(expression: str, data: dict[str, Any], functions: Any) -> Any:
    """Plain YAQL on fully converted data, as Mistral evaluates."""
    statement = yaql_evaluator._ENGINE(expression)
    context = yaql_evaluator.new_context(data, functions)
    context["$"] = yaql_utils.convert_input_data(data)
    for name in ("__env", "__execution", "__task_execution"):
        context[name] = yaql_utils.convert_input_data(data.get(name))
    return statement.evaluate(context=context)


def outcome(run: Any) -> tuple[str, str]:
    try:
        return "value", repr(run())
    except errors.ExpressionEvaluationError as error:
        return "error", error.message.split(", error=", 1)[1][:-1]
    except Exception as error:
        return "error", str(error)


@pytest.mark.parametrize("expression", CASES)
def test_same_outcome_as_plain_yaql(expression: str) -> None:
    layered = ChainMap({"i": 3}, {key: value for key, value in DATA.items() if key != "i"})
    expected = outcome(lambda: mistral_way(expression, DATA, FakeFunctions()))
    assert outcome(lambda: evaluate(f"<% {expression} %>", DATA, FakeFunctions())) == expected
    assert outcome(lambda: evaluate(f"<% {expression} %>", layered, FakeFunctions())) == expected


def test_the_comparison_covers_values_and_errors() -> None:
    kinds = {
        outcome(lambda e=expression: evaluate(f"<% {e} %>", DATA, FakeFunctions()))[0]
        for expression in CASES
    }
    assert kinds == {"value", "error"}


class _CountingView(dict[str, Any]):
    """A task as a mapping that counts the fields read."""

    read: list[str]

    def __getitem__(self, key: str) -> Any:
        self.read.append(key)
        return super().__getitem__(key)


def test_task_then_keys_reads_one_field() -> None:
    view = _CountingView(first_task := {"id": "T1", "result": {"k": [1, 2]}, "published": {}})
    view.read = []

    class OneTask(FakeFunctions):
        def task(self, name: str | None) -> Any:
            self.calls.append(("task", (name,)))
            return view

    functions = OneTask()
    value = evaluate("<% task().result.k %>", DATA, functions)
    assert value == [1, 2]
    assert functions.calls == [("task", (None,))]
    assert view.read == ["result"]
    value.append(3)  # a fresh value: the task's own is untouched
    assert first_task["result"] == {"k": [1, 2]}
