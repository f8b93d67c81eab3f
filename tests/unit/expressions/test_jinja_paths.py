"""Jinja's plain reads (``_.a.b``, ``_['a']``, ``task().result``, ``task('t').published.x``)
read directly give what Jinja's compiled template gives: the same values, the same errors.

Each expression is evaluated twice, by :func:`sirocco.expressions.evaluate` (which reads a
plain read directly) and with the direct read turned off (the compiled template alone),
on data as a dict and as a ``ChainMap`` of layers, with values stored by reference.
"""

from __future__ import annotations

import copy
import re
from collections import ChainMap
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sirocco import errors, references
from sirocco.expressions import Budget, evaluate, jinja_evaluator
from sirocco.limits import Limits
from tests.unit.expressions.fakes import TASKS, FakeFunctions

_STORED: dict[str, Any] = {"big": {"k": "stored", "items": 1}, "text": "a stored text"}


def _blob(digest: str) -> references.Blob:
    kind = references.OBJECT if isinstance(_STORED[digest], dict) else references.OTHER
    return references.Blob(digest, 10, kind, _STORED.__getitem__)


DATA: dict[str, Any] = {
    "x": 1,
    "s": "hi",
    "n": None,
    "l": [1, {"k": 2}],
    "d": {"a": 1, "b": [1, 2], "inner": {"deep": "x", "items": "an items key"}, "keys": 3},
    "items": "the items variable",
    "maps": "the maps variable",
    "get": {"k": "a get key"},
    "stored": _blob("big"),
    "stored_text": _blob("text"),
    "__env": {"e": 5},
}


def _layered() -> ChainMap[str, Any]:
    data = copy.copy(DATA)
    return ChainMap({"x": data.pop("x"), "maps": data.pop("maps")}, {}, data)


class _View(Mapping[str, Any]):
    """A task as the engine hands it over: a mapping, not a dict (``TaskView``)."""

    def __init__(self, task: Mapping[str, Any]) -> None:
        self._task = task

    def __getitem__(self, key: str) -> Any:
        return self._task[key]

    def __contains__(self, key: object) -> bool:
        return key in self._task

    def __iter__(self) -> Iterator[str]:
        return iter(self._task)

    def __len__(self) -> int:
        return len(self._task)


class _Functions(FakeFunctions):
    def task(self, name: str | None) -> Mapping[str, Any] | None:
        found = super().task(name)
        return None if found is None else _View(found)


TASKS_WITH_VALUES = {
    **TASKS,
    "third": {
        "id": "T3",
        "name": "third",
        "result": _blob("big"),
        "published": {"p": _blob("text"), "q": {"r": [1]}},
        "items": "an items field",
    },
}

FORMS = [
    "_.x",
    "_.s",
    "_.n",
    "_.l",
    "_.d",
    "_.d.a",
    "_.d.inner.deep",
    "_.d.inner.items",
    "_.d.inner['items']",
    "_.d['keys']",
    "_.d.keys",
    "_.d.missing",
    "_.d.inner.missing.more",
    "_.s.upper",
    "_.s.k",
    "_.n.k",
    "_.l.k",
    "_.x.k",
    "_.items",
    "_['items']",
    "_.maps",
    "_['maps']",
    "_.get",
    "_['get'].k",
    "_.get.k",
    "_.missing",
    "_['missing']",
    "_.stored",
    "_.stored.k",
    "_.stored.items",
    "_['stored']['items']",
    "_.stored_text",
    "_.stored_text.k",
    "_.__env.e",
    "_ . d . a",
    "task().result",
    "task().name",
    "task().published",
    "task().missing",
    "task().items",
    "task()['result']",
    "task('first').result",
    "task('first').published.p",
    "task('first').published.missing",
    "task('first').published.p.deeper",
    'task("first").id',
    "task('nosuch').result",
    "task(None).result",
    "task('third').result",
    "task('third').result.k",
    "task('third').result.items",
    "task('third').result['items']",
    "task('third').published.p",
    "task('third').published.q.r",
    "task('third')['items']",
    "task('third').items",
    "task(1).result",
    "task(name='first').result",
    "task('first', 2).result",
]


def outcome(run: Any) -> tuple[str, str]:
    try:
        # A method read (``_.d.keys``) shows where its dict is: that part is not compared.
        return "value", re.sub(" at 0x[0-9a-f]+", "", repr(run()))
    except errors.ExpressionEvaluationError as error:
        return "error", error.message
    except Exception as error:  # what evaluate() must never let out
        return "escaped", f"{type(error).__name__}: {error}"


def both_ways(
    expression: str, data: Any, functions: Any, budget: Budget | None = None
) -> tuple[tuple[str, str], tuple[str, str]]:
    text = f"{{{{ {expression} }}}}"
    direct = outcome(lambda: evaluate(text, data, functions, budget))
    original = jinja_evaluator._path
    jinja_evaluator._path = lambda expression: None  # type: ignore[assignment]
    try:
        compiled = outcome(lambda: evaluate(text, data, functions, budget))
    finally:
        jinja_evaluator._path = original  # type: ignore[assignment]
    return direct, compiled


@pytest.fixture(autouse=True)
def _tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.unit.expressions.fakes.TASKS", TASKS_WITH_VALUES)


@pytest.mark.parametrize("root", ["dict", "chain"])
@pytest.mark.parametrize("functions", [FakeFunctions, _Functions, None])
@pytest.mark.parametrize("expression", FORMS)
def test_a_plain_read_reads_what_jinja_reads(expression: str, root: str, functions: Any) -> None:
    data = copy.copy(DATA) if root == "dict" else _layered()
    direct, compiled = both_ways(expression, data, functions and functions())
    assert direct == compiled
    assert direct[0] != "escaped"


def test_the_comparison_covers_values_and_errors() -> None:
    kinds = {both_ways(form, _layered(), _Functions())[0][0] for form in FORMS}
    assert kinds == {"value", "error"}


def test_a_plain_read_is_not_compiled_and_reads_one_field() -> None:
    read: list[str] = []

    class Counting(_View):
        def __getitem__(self, key: str) -> Any:
            read.append(key)
            return super().__getitem__(key)

    class Functions(FakeFunctions):
        def task(self, name: str | None) -> Any:
            self.calls.append(("task", (name,)))
            return Counting({"result": {"k": [1, 2]}, "spec": {"never": "read"}})

    functions = Functions()
    before = jinja_evaluator._compile_expression.cache_info().misses
    value = evaluate("{{ task().result.k }}", _layered(), functions)
    assert value == [1, 2]
    assert functions.calls == [("task", (None,))]
    assert read == ["result"]
    assert evaluate("{{ _.d.inner.deep }}", _layered()) == "x"
    assert jinja_evaluator._compile_expression.cache_info().misses == before


def test_a_value_read_is_a_fresh_copy() -> None:
    data = _layered()
    value = evaluate("{{ _.d.inner }}", data)
    value["deep"] = "changed"
    assert data["d"]["inner"]["deep"] == "x"


@pytest.mark.parametrize(
    "expression", ["_.d.long", "_['d']['long']", "task('long').result", "_.long"]
)
def test_a_long_text_read_is_measured_as_jinja_measures_it(expression: str) -> None:
    long_text = "y" * 20_000
    data = ChainMap({"d": {"long": long_text}, "long": long_text})
    TASKS_WITH_VALUES["long"] = {"result": long_text}
    try:
        budget = Budget(Limits(expression_max_bytes=10_000))
        direct, compiled = both_ways(expression, data, FakeFunctions(), budget)
    finally:
        del TASKS_WITH_VALUES["long"]
    assert direct == compiled


_KEYS = st.sampled_from(["a", "b", "k", "items", "keys", "maps", "result", "published", "p"])
_LEAVES = st.one_of(st.integers(-3, 3), st.text("xy", max_size=3), st.none(), st.booleans())
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=2), st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=8,
)
_STEPS = st.lists(
    st.tuples(_KEYS, st.booleans()).map(
        lambda step: f"['{step[0]}']" if step[1] else f".{step[0]}"
    ),
    min_size=1,
    max_size=4,
)
_BASES = st.sampled_from(["_", "task()", "task('first')", "task('nosuch')", "task('third')"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=_BASES,
    steps=_STEPS,
    top=st.dictionaries(_KEYS, _VALUES, max_size=4),
    under=st.dictionaries(_KEYS, _VALUES, max_size=4),
    chained=st.booleans(),
)
def test_random_plain_reads_read_what_jinja_reads(
    base: str, steps: list[str], top: dict[str, Any], under: dict[str, Any], chained: bool
) -> None:
    data: Any = ChainMap(top, under) if chained else {**under, **top}
    TASKS_WITH_VALUES["first"] = {**TASKS["first"], **top}
    try:
        direct, compiled = both_ways(base + "".join(steps), data, _Functions())
    finally:
        TASKS_WITH_VALUES["first"] = TASKS["first"]
    assert direct == compiled
