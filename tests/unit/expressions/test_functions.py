"""Mistral's expression functions, in YAQL and in Jinja (globals and filters).

Text outputs (json_dump, yaml_dump, yaml_parse of anchors) are those Mistral 23
returned; json_pp is Mistral 22's (it is gone from 23).
"""

from __future__ import annotations

import uuid
from collections import ChainMap
from typing import Any

import pytest

from sirocco import errors
from sirocco.expressions import evaluate, jinja_evaluator, yaql_evaluator
from sirocco.expressions.functions import FUNCTION_NAMES
from tests.unit.expressions.fakes import TASKS, FakeFunctions

DATA: dict[str, Any] = {
    "x": 1,
    "d": {"b": 1, "a": [1, "x\ny"], "u": "é"},
    "__env": {"e": 5},
    "__execution": {"id": "E1"},
    "__task_execution": {"id": "T2", "name": "second"},
}


@pytest.fixture
def functions() -> FakeFunctions:
    return FakeFunctions()


# task(), tasks(), execution(), executions(), global(): the engine answers.


@pytest.mark.parametrize(
    ("expression", "expected", "call"),
    [
        ("<% task() %>", TASKS["second"], ("task", (None,))),
        ("<% task(first) %>", TASKS["first"], ("task", ("first",))),
        ("<% task('first').result %>", 11, ("task", ("first",))),
        ("<% task(taskName => first).published %>", {"p": 1}, ("task", ("first",))),
        ("<% task(nothing) %>", None, ("task", ("nothing",))),
        ("{{ task() }}", TASKS["second"], ("task", (None,))),
        ("{{ task('first').result }}", 11, ("task", ("first",))),
        ("{{ task(task_name='first').result }}", 11, ("task", ("first",))),
        ("{{ _ | task('first') }}", TASKS["first"], ("task", ("first",))),
        ("{{ _ | task }}", TASKS["second"], ("task", (None,))),
    ],
)
def test_task(functions: FakeFunctions, expression: str, expected: Any, call: Any) -> None:
    assert evaluate(expression, DATA, functions) == expected
    assert functions.calls == [call]


@pytest.mark.parametrize(
    ("expression", "call"),
    [
        ("<% tasks() %>", (None, False, None, False)),
        ("<% tasks($__execution.id, true, ERROR, true) %>", ("E1", True, "ERROR", True)),
        ("<% tasks(state => ERROR) %>", (None, False, "ERROR", False)),
        ("<% tasks(workflowExecutionId => E1, flat => true) %>", ("E1", False, None, True)),
        ("{{ tasks() }}", (None, False, None, False)),
        ("{{ tasks(state='ERROR') }}", (None, False, "ERROR", False)),
        ("{{ tasks(workflow_execution_id='E1', recursive=true) }}", ("E1", True, None, False)),
        ("{{ _ | tasks('E1', false, 'ERROR') }}", ("E1", False, "ERROR", False)),
    ],
)
def test_tasks(functions: FakeFunctions, expression: str, call: Any) -> None:
    state = call[2]
    expected = [task for task in TASKS.values() if state is None or task["state"] == state]
    assert evaluate(expression, DATA, functions) == expected
    assert functions.calls == [("tasks", call)]


def test_tasks_results_can_be_queried(functions: FakeFunctions) -> None:
    assert evaluate("<% tasks().select($.name).orderBy($) %>", DATA, functions) == [
        "first",
        "second",
    ]
    assert evaluate("<% tasks(state => SUCCESS).len() %>", DATA, functions) == 1
    assert evaluate("{{ tasks() | map(attribute='id') | list }}", DATA, functions) == ["T1", "T2"]


@pytest.mark.parametrize(
    "expression", ["<% execution() %>", "{{ execution() }}", "{{ _ | execution }}"]
)
def test_execution(functions: FakeFunctions, expression: str) -> None:
    assert evaluate(expression, DATA, functions) == functions.execution()
    assert evaluate("<% execution().input.a %>", DATA, functions) == 1


@pytest.mark.parametrize(
    ("expression", "call"),
    [
        ("<% executions() %>", (None, None, None, None, None)),
        (
            "<% executions(E1, R1, RUNNING, '2026-01-01', '2027-01-01') %>",
            ("E1", "R1", "RUNNING", "2026-01-01", "2027-01-01"),
        ),
        (
            "<% executions(rootExecutionId => R1, fromTime => '2026') %>",
            (None, "R1", None, "2026", None),
        ),
        (
            "{{ executions(root_execution_id='R1', to_time='2027') }}",
            (None, "R1", None, None, "2027"),
        ),
        ("{{ _ | executions(state='RUNNING') }}", (None, None, "RUNNING", None, None)),
    ],
)
def test_executions(functions: FakeFunctions, expression: str, call: Any) -> None:
    assert evaluate(expression, DATA, functions) == [{"id": "E1", "state": "RUNNING"}]
    assert functions.calls == [("executions", call)]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("<% global(g) %>", [1, 2]),
        ("<% global('nothing') %>", None),
        ("<% global(varName => g).len() %>", 2),
        ("{{ global('g') }}", [1, 2]),
        ("{{ _ | global('g') }}", [1, 2]),
    ],
)
def test_global(functions: FakeFunctions, expression: str, expected: Any) -> None:
    assert evaluate(expression, DATA, functions) == expected


def test_function_results_are_copies(functions: FakeFunctions) -> None:
    for expression in ["<% task(first) %>", "{{ task('first') }}"]:
        result = evaluate(expression, DATA, functions)
        result["published"]["p"] = "changed"
        assert TASKS["first"]["published"] == {"p": 1}
    changed = "{% set g = global('g') %}{{ g.append(3) }}{{ g }}"
    assert evaluate(changed, DATA, functions) == "None[1, 2, 3]"
    assert functions.globals["g"] == [1, 2]


@pytest.mark.parametrize(
    ("expression", "name"),
    [
        ("<% task() %>", "task"),
        ("<% tasks() %>", "tasks"),
        ("<% execution() %>", "execution"),
        ("<% executions() %>", "executions"),
        ("<% global(x) %>", "global"),
        ("{{ task('a') }}", "task"),
        ("{{ tasks() }}", "tasks"),
        ("{{ execution() }}", "execution"),
        ("{{ executions() }}", "executions"),
        ("{{ global('x') }}", "global"),
        ("{{ _ | task }}", "task"),
    ],
)
def test_engine_functions_fail_clearly_without_an_engine(expression: str, name: str) -> None:
    with pytest.raises(errors.ExpressionEvaluationError) as raised:
        evaluate(expression, DATA)
    assert f"error={name}() is not available here]" in raised.value.message


def test_errors_worded_by_the_engine_pass_through() -> None:
    class Failing(FakeFunctions):
        def task(self, name: str | None) -> Any:
            raise errors.ExpressionEvaluationError("no current task here")

    for expression in ["<% task() %>", "{{ task() }}"]:
        with pytest.raises(errors.ExpressionEvaluationError) as raised:
            evaluate(expression, DATA, Failing())
        assert raised.value.message == "no current task here"


# env(), json_*, yaml_*, uuid(): no engine needed.


@pytest.mark.parametrize("expression", ["<% env() %>", "{{ env() }}", "{{ _ | env }}"])
def test_env(expression: str) -> None:
    assert evaluate(expression, DATA) == {"e": 5}
    assert evaluate(expression, ChainMap({"x": 1}, DATA)) == {"e": 5}
    assert evaluate(expression, {"x": 1}) == {}


def test_env_reads_inside_queries() -> None:
    data = {"names": ["e", "f"], "__env": {"e": 5, "f": 6}}
    assert evaluate("<% $.names.select(env().get($)) %>", data) == [5, 6]


JSON_OF_D = '{\n    "b": 1,\n    "a": [\n        1,\n        "x\\ny"\n    ],\n    "u": "\\u00e9"\n}'
YAML_OF_D = "a:\n- 1\n- 'x\n\n  y'\nb: 1\nu: \"\\xE9\"\n"


@pytest.mark.parametrize(
    "expression",
    [
        "<% json_dump($.d) %>",
        "<% json_dump(data => $.d) %>",
        "{{ json_dump(_.d) }}",
        "{{ _ | json_dump(_.d) }}",
    ],
)
def test_json_dump(expression: str) -> None:
    assert evaluate(expression, DATA) == JSON_OF_D
    assert evaluate(expression, ChainMap({}, DATA)) == JSON_OF_D


def test_json_dump_of_other_values() -> None:
    assert evaluate("<% json_dump(null) %>", {"a": 1}) == "null"
    assert evaluate("<% json_dump(true) %>", {"a": 1}) == "true"
    assert evaluate("<% json_dump(set(1)) %>", {"a": 1}) == "[\n    1\n]"
    assert (
        evaluate("{{ json_dump(_) }}", ChainMap({"a": 1}, {"b": 2}))
        == '{\n    "b": 2,\n    "a": 1\n}'
    )


@pytest.mark.parametrize(
    "expression",
    ["<% yaml_dump($.d) %>", "{{ yaml_dump(_.d) }}", "{{ _ | yaml_dump(_.d) }}"],
)
def test_yaml_dump(expression: str) -> None:
    assert evaluate(expression, DATA) == YAML_OF_D


def test_yaml_dump_of_other_values() -> None:
    assert evaluate("<% yaml_dump([]) %>", {"a": 1}) == "[]\n"
    assert evaluate("<% yaml_dump(1) %>", {"a": 1}) == "1\n...\n"
    assert evaluate("<% yaml_dump(null) %>", {"a": 1}) == "null\n...\n"
    shared = [1]
    assert evaluate("{{ yaml_dump(_) }}", {"p": shared, "q": shared}) == "p:\n- 1\nq:\n- 1\n"


@pytest.mark.parametrize("language", ["yaql", "jinja"])
def test_json_and_yaml_round_trips(language: str) -> None:
    if language == "yaql":
        dumped = evaluate("<% json_parse(json_dump($.d)) %>", DATA)
        yamled = evaluate("<% yaml_parse(yaml_dump($.d)) %>", DATA)
    else:
        dumped = evaluate("{{ json_parse(json_dump(_.d)) }}", DATA)
        yamled = evaluate("{{ yaml_parse(yaml_dump(_.d)) }}", DATA)
    assert dumped == DATA["d"]
    assert yamled == DATA["d"]
    assert list(dumped) == ["b", "a", "u"]  # JSON keeps the order
    assert list(yamled) == ["a", "b", "u"]  # YAML sorts the keys


def test_json_parse() -> None:
    assert evaluate('<% json_parse("[1, 2.50, \\"a\\"]") %>', {"a": 1}) == [1, 2.5, "a"]
    assert evaluate("{{ json_parse(_.text) }}", {"text": '{"a": [1]}'}) == {"a": [1]}
    assert evaluate("{{ _ | json_parse(_.text) }}", {"text": "[true]"}) == [True]
    with pytest.raises(errors.ExpressionEvaluationError) as raised:
        evaluate('<% json_parse("x") %>', {"a": 1})
    assert raised.value.message == (
        'Can not evaluate YAQL expression [expression=json_parse("x"), '
        "error=Expecting value: line 1 column 1 (char 0)]"
    )


def test_yaml_parse_reads_anchors_and_aliases_as_text() -> None:
    data = {"text": "a: &x 1\nb: *x\nc: @foo", "list": "- &a [1]\n- *a"}
    expected = {"a": "&x 1", "b": "*x", "c": "@foo"}
    assert evaluate("<% yaml_parse($.text) %>", data) == expected
    assert evaluate("{{ yaml_parse(_.text) }}", data) == expected
    assert evaluate("<% yaml_parse($.list) %>", data) == ["&a [1]", "*a"]


def test_yaml_parse_does_not_expand_a_billion_laughs() -> None:
    text = 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nd: [*c,*c]'
    assert evaluate("<% yaml_parse($.text) %>", {"text": text}) == {
        "a": '&a ["x","x"]',
        "b": "&b [*a,*a]",
        "c": "&c [*b,*b]",
        "d": ["*c", "*c"],
    }


def test_yaml_parse_is_safe() -> None:
    with pytest.raises(errors.ExpressionEvaluationError, match="could not determine a constructor"):
        evaluate("<% yaml_parse($.text) %>", {"text": "!!python/object/apply:os.system ['true']"})
    assert evaluate("<% yaml_parse('') %>", {"a": 1}) is None


@pytest.mark.parametrize("expression", ["<% uuid() %>", "{{ uuid() }}", "{{ _ | uuid }}"])
def test_uuid(expression: str) -> None:
    first = evaluate(expression, {"a": 1})
    second = evaluate(expression, {"a": 1})
    assert str(uuid.UUID(first)) == first and first != second
    assert uuid.UUID(first).version == 4


# json_pp: Mistral 22's pretty print, kept for old workflows.


@pytest.mark.parametrize(
    "expression", ["<% json_pp($.d) %>", "{{ json_pp(_.d) }}", "{{ _ | json_pp(_.d) }}"]
)
def test_json_pp_turns_escaped_newlines_into_real_ones(expression: str) -> None:
    assert evaluate(expression, DATA) == (
        '{\n    "b": 1,\n    "a": [\n        1,\n        "x\ny"\n    ],\n    "u": "\\u00e9"\n}'
    )


def test_json_pp_drops_a_space_before_a_newline() -> None:
    assert evaluate("<% json_pp($.text) %>", {"text": "a \n b"}) == '"a\n b"'


@pytest.mark.parametrize(
    "expression", ["<% json_pp() %>", "{{ json_pp() }}", "{{ _ | json_pp }}", "<% json_pp({}) %>"]
)
def test_json_pp_without_data_prints_the_whole_context(expression: str) -> None:
    assert (
        evaluate(expression, ChainMap({"a": 1}, {"b": "x\ny"}))
        == '{\n    "b": "x\ny",\n    "a": 1\n}'
    )


def test_both_languages_offer_mistral_23_functions_and_json_pp() -> None:
    mistral_23 = {
        "env", "execution", "executions", "global", "json_dump", "json_parse",
        "task", "tasks", "uuid", "yaml_dump", "yaml_parse",
    }  # fmt: skip
    expected = mistral_23 | {"json_pp"}
    assert set(FUNCTION_NAMES) == expected
    assert set(yaql_evaluator._REGISTERED) == expected
    assert expected <= set(jinja_evaluator._GLOBALS)
    assert set(jinja_evaluator._FILTERS) == expected


@pytest.mark.parametrize("name", ["json_dump", "json_parse", "yaml_dump", "yaml_parse"])
def test_a_data_filter_without_its_argument_fails_as_in_mistral(name: str) -> None:
    # Mistral's functions take (context, data): the piped value is the context.
    with pytest.raises(errors.ExpressionEvaluationError) as raised:
        evaluate(f"{{{{ _.text | {name} }}}}", {"text": "[1]"})
    assert raised.value.message == (
        f"Can not evaluate Jinja expression [expression={{{{ _.text | {name} }}}}, "
        f"error={name}_() missing 1 required positional argument: 'data']"
    )
